/**
 * The master's HTTP front door, one of two (settings `endpoint`):
 *
 * - `api-gateway` (default): a regional REST API. POST /api/v1/scheduler streams (SUBSCRIBE is a
 *   RecordIO stream; every scheduler call shares the path) from the streaming entry point; the other
 *   routes are buffered. Every framework, operator and agent route has the TOKEN authorizer over the
 *   registrar's principals (functions/master/routes.ts says who may call what); its 401 and 403 look like
 *   the app's. Stage throttling, access logs, an optional custom domain, and an optional WAF web ACL.
 * - `function-url`: the streaming function's URL serves every route (the app authenticates callers
 *   itself). No per-request charge, no authorizer, no WAF: see docs/cost.md.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { API_ROUTES } from '../functions/master/routes.js';
import type { ClusterSettings } from './settings.js';

export const STAGE_NAME = 'v1';
/** The realm the app names in its own 401s (functions/handlers/app.ts). */
const REALM = 'mesos-master-scheduler';

export interface RestApiProps {
  readonly settings: ClusterSettings;
  readonly buffered: lambda.IFunction;
  readonly streaming: lambda.IFunction;
  readonly authorizer: lambda.IFunction;
}

export class MantleRestApi extends Construct {
  readonly api: apigw.RestApi;
  readonly url: string;
  readonly publicMethods: apigw.Method[] = [];

  constructor(scope: Construct, id: string, props: RestApiProps) {
    super(scope, id);
    const { settings } = props;
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `mantle-${settings.clusterName}`,
      description: `Mantle cluster ${settings.clusterName}: the Mesos scheduler API and the agents' API`,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // Protobuf bodies reach the Lambda base64-encoded and protobuf answers leave as bytes (hono's adapter
      // decodes and encodes them); JSON stays text.
      binaryMediaTypes: ['application/x-protobuf'],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: settings.throttleRateLimit,
        throttlingBurstLimit: settings.throttleBurstLimit,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
    });
    // Only the principal kinds a route allows get past the authorizer's policy; malformed headers are
    // refused by API Gateway before the authorizer runs.
    const authorizer = new apigw.TokenAuthorizer(this, 'Authorizer', {
      handler: props.authorizer,
      identitySource: apigw.IdentitySource.header('Authorization'),
      validationRegex: '^(Basic|Bearer) [A-Za-z0-9+/=_-]+$',
      resultsCacheTtl: Duration.minutes(5),
    });
    const buffered = new apigw.LambdaIntegration(props.buffered, { scopePermissionToMethod: false });
    const streaming = new apigw.LambdaIntegration(props.streaming, {
      scopePermissionToMethod: false,
      responseTransferMode: apigw.ResponseTransferMode.STREAM,
      // A SUBSCRIBE stream lasts up to the Lambda's 15 minutes (the app closes it at 14).
      timeout: Duration.minutes(15),
    });
    for (const route of API_ROUTES) {
      const resource = this.api.root.resourceForPath(route.path);
      const integration = route.streaming ? streaming : buffered;
      const method =
        route.callers === 'public'
          ? resource.addMethod(route.method, integration, { authorizationType: apigw.AuthorizationType.NONE })
          : resource.addMethod(route.method, integration, {
              authorizer,
              authorizationType: apigw.AuthorizationType.CUSTOM,
            });
      if (route.callers === 'public') this.publicMethods.push(method);
    }
    this.api.addGatewayResponse('Unauthorized', {
      type: apigw.ResponseType.UNAUTHORIZED,
      statusCode: '401',
      responseHeaders: { 'WWW-Authenticate': `'Basic realm="${REALM}"'` },
      templates: { 'application/json': '"Unauthorized"' },
    });
    this.api.addGatewayResponse('Forbidden', {
      type: apigw.ResponseType.ACCESS_DENIED,
      statusCode: '403',
      templates: { 'application/json': '"Forbidden: this principal may not call this API"' },
    });
    if (settings.domainName && settings.certificateArn) {
      this.api.addDomainName('Domain', {
        domainName: settings.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', settings.certificateArn),
        endpointType: apigw.EndpointType.REGIONAL,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
      });
    }
    if (settings.webAclArn) {
      new wafv2.CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: settings.webAclArn,
      });
    }
    this.url = settings.domainName ? `https://${settings.domainName}/` : this.api.url;
  }
}
