// Kernel refusals that a caller answers differently from any other failure, told apart here by
// errno so that no caller reads message text.

// The bridge has no port left: Linux numbers a bridge's ports in 10 bits, port 0 unused, so it takes
// at most 1,023 (the VXLAN device among them); the next one is refused with EXFULL.
export class BridgeFullError extends Error {
  constructor(readonly bridge: string) {
    super(`bridge ${bridge} is full (a Linux bridge takes at most 1,023 ports)`);
    this.name = 'BridgeFullError';
  }
}
