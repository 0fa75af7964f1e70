/** Framework capabilities (Mesos `FrameworkInfo.Capability.Type`), as the master, the agent and the tests read them. */

interface WithCapabilities {
  readonly capabilities?: ReadonlyArray<{ readonly type?: string | undefined }> | undefined;
}

export function hasCapability(info: WithCapabilities | undefined, capability: string): boolean {
  return (info?.capabilities ?? []).some((entry) => entry.type === capability);
}
