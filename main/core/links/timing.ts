/** Every deadline of the link layer and the messenger, overridable (tests shorten them). */
export interface Timing {
  /** TLS handshake must finish within this. */
  handshakeTimeoutMs: number;
  /** The peer's Hello must arrive within this after the handshake. */
  helloTimeoutMs: number;
  /** Send a ping after this long without sending anything. */
  pingIdleMs: number;
  /** A link with nothing received for this long is dead (the issue asks for ≤ 15 s). */
  deadAfterMs: number;
  redialMinMs: number;
  redialMaxMs: number;
  /** After this, an undelivered message of mine shows as "not delivered yet". */
  deliveryDeadlineMs: number;
}

export const defaultTiming: Timing = {
  handshakeTimeoutMs: 10_000,
  helloTimeoutMs: 20_000,
  pingIdleMs: 4_000,
  deadAfterMs: 12_000,
  redialMinMs: 1_000,
  redialMaxMs: 60_000,
  deliveryDeadlineMs: 30_000,
};
