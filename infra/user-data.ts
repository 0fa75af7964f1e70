/**
 * What a GPU agent instance runs at first boot: Node 22, Docker and the NVIDIA container toolkit
 * (already on the Deep Learning AMI; installed on others), the agent bundle from its CDK asset (with
 * the GPU device filter's loader, compiled here when the bundle could not bring it), and the
 * agent as a systemd service. The agent holds no secret: it proves its instance to the master with the
 * instance role (--authenticatee=aws_sts, docs/agent.md), and keeps every task, root and host-network
 * ones included, from the instance metadata service that hands out that role (--block_metadata).
 */
import { DEVICE_FILTER_BINARY } from '../agent/isolation/device-filter.js';
import { INSTANCE_ID_ATTRIBUTE } from '../functions/fleet/instance-id.js';

export interface AgentSetup {
  /** The master's URL (the REST API stage or the function URL). */
  readonly masterUrl: string;
  readonly region: string;
  /** The cluster the agents' identity is bound to (the master refuses one signed for another). */
  readonly cluster: string;
  /** The agent bundle's asset (a zip): `s3://bucket/key`. */
  readonly bundleUrl: string;
  /** Where it is downloaded to. */
  readonly bundleZip: string;
}

export const AGENT_HOME = '/opt/mantle';
export const AGENT_SERVICE = 'mantle-agent';
/** Beside the agent's index.mjs, where the agent looks for it (agent/isolation/device-filter.ts). */
const DEVICE_FILTER = `${AGENT_HOME}/agent/${DEVICE_FILTER_BINARY}`;

export function agentSetupCommands(setup: AgentSetup): string[] {
  const env = [
    `MANTLE_AGENT_MASTER=${setup.masterUrl}`,
    'MANTLE_AGENT_WORK_DIR=/var/lib/mantle',
    'MANTLE_AGENT_CONTAINERIZERS=docker,mesos',
    // The instance role's session, verified by STS, is the agent's identity: no shared secret.
    'MANTLE_AGENT_AUTHENTICATEE=aws_sts',
    `MANTLE_AGENT_CLUSTER=${setup.cluster}`,
    `MANTLE_AGENT_REGION=${setup.region}`,
    `MANTLE_AGENT_ATTRIBUTES=${INSTANCE_ID_ATTRIBUTE}:$INSTANCE_ID`,
    `AWS_REGION=${setup.region}`,
    // No task reaches the metadata service (the instance role): the agent's firewall, tasks' cgroups.
    'MANTLE_AGENT_BLOCK_METADATA=169.254.169.254,fd00:ec2::254',
  ];
  return [
    'set -euxo pipefail',
    'exec >>/var/log/mantle-agent-setup.log 2>&1',
    // IMDSv2 only (the launch template requires tokens).
    `IMDS_TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')`,
    'INSTANCE_ID=$(curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
    // Amazon Linux 2023 namespaces Node: the package nodejs22 installs /usr/bin/node-22.
    'command -v node-22 || dnf install -y nodejs22',
    'command -v unzip || dnf install -y unzip',
    'command -v docker || dnf install -y docker',
    // The agent's metadata firewall (iptables and ip6tables; the nftables backend is fine).
    'command -v iptables || dnf install -y iptables-nft',
    'if ! command -v nvidia-ctk; then',
    '  curl -fsSL https://nvidia.github.io/libnvidia-container/stable/rpm/nvidia-container-toolkit.repo -o /etc/yum.repos.d/nvidia-container-toolkit.repo',
    '  dnf install -y nvidia-container-toolkit',
    'fi',
    'nvidia-ctk runtime configure --runtime=docker',
    'systemctl enable docker',
    'systemctl restart docker',
    `mkdir -p ${AGENT_HOME}/agent /etc/mantle /var/lib/mantle`,
    `aws s3 cp --region ${setup.region} ${setup.bundleUrl} ${setup.bundleZip}`,
    `unzip -o ${setup.bundleZip} -d ${AGENT_HOME}/agent`,
    // The GPU device filter's loader: built at synth time where that could be done, else here.
    `if [ -f ${DEVICE_FILTER} ]; then chmod 755 ${DEVICE_FILTER}; else`,
    '  command -v cc || dnf install -y gcc',
    `  cc -O2 -o ${DEVICE_FILTER} ${AGENT_HOME}/agent/device-filter.c`,
    'fi',
    `cat > /etc/mantle/agent.env <<ENV\n${env.join('\n')}\nENV`,
    `cat > /etc/systemd/system/${AGENT_SERVICE}.service <<'UNIT'`,
    '[Unit]',
    'Description=Mantle agent',
    'After=network-online.target docker.service',
    'Wants=network-online.target docker.service',
    'StartLimitIntervalSec=0',
    '[Service]',
    'EnvironmentFile=/etc/mantle/agent.env',
    `ExecStart=/usr/bin/node-22 --enable-source-maps ${AGENT_HOME}/agent/index.mjs`,
    // Only the agent stops with the service: its tasks keep running and a restarted agent recovers them.
    'KillMode=process',
    'Restart=always',
    'RestartSec=15',
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    'systemctl daemon-reload',
    `systemctl enable --now ${AGENT_SERVICE}`,
  ];
}
