/**
 * One Mantle cluster on AWS. For now: the registrar's tables, declared from the same definitions the
 * local cluster creates (shared/registrar/tables.ts). The API, handlers, queues and the GPU agent
 * fleet are added by later work.
 */
import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { TABLE_DEFINITIONS, tableNames, type KeyAttribute, type TableId } from '../shared/registrar/tables.js';

export interface MantleStackProps extends StackProps {
  /** Names the cluster; prefixes every table. */
  readonly clusterName: string;
  /** Deletion protection on the tables (default on: the registrar is the cluster's state). */
  readonly deletionProtection?: boolean;
}

function attribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

export class MantleStack extends Stack {
  readonly tables: Readonly<Record<TableId, TableV2>>;

  constructor(scope: Construct, id: string, props: MantleStackProps) {
    super(scope, id, props);
    const names = tableNames(props.clusterName);
    const protect = props.deletionProtection ?? true;
    const tables = {} as Record<TableId, TableV2>;
    for (const definition of TABLE_DEFINITIONS) {
      tables[definition.id] = new TableV2(this, `Table-${definition.id}`, {
        tableName: names[definition.id],
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
        deletionProtection: protect,
        removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
    }
    this.tables = tables;
  }
}
