// Kernel object names derived from stored records. Every name fits IFNAMSIZ (15 characters).
export const vxlanName = (vni: number): string => `vx-${vni}`;
export const bridgeName = (vni: number): string => `vxbr-${vni}`;
export const hostVethName = (endpointId: string): string => `vxv${endpointId.slice(0, 12)}`;
// The container end of a Docker endpoint's veth while it is in the host's namespace: made by Join,
// handed back by Docker when the container leaves.
export const dockerPeerName = (endpointId: string): string => `vxd${endpointId.slice(0, 12)}`;

export function vniOfDevice(name: string): { kind: 'vxlan' | 'bridge'; vni: number } | undefined {
  const m = /^(vx|vxbr)-(\d{1,8})$/.exec(name);
  if (!m) return undefined;
  return { kind: m[1] === 'vx' ? 'vxlan' : 'bridge', vni: Number(m[2]) };
}
export const isHostVeth = (name: string): boolean => /^vxv[0-9a-f]{12}$/.test(name);
