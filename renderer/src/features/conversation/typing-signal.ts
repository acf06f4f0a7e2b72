// What the composer tells the other side about typing. The receiver shows "typing" until a
// `false` arrives or 6 s pass without a repeat, so while text keeps changing we repeat `true`
// every few seconds, and say `false` as soon as the text is sent, cleared or left behind.
// Pure (a clock and a sender are injected) so it can be tested without a browser.

/** Repeat "still typing" this often at most; well inside the receiver's 6 s expiry. */
export const TYPING_REPEAT_MS = 3000;

export class TypingSignal {
  private readonly send: (typing: boolean) => void;
  private readonly now: () => number;
  private active = false;
  private lastSent = Number.NEGATIVE_INFINITY;

  constructor(send: (typing: boolean) => void, now: () => number = () => Date.now()) {
    this.send = send;
    this.now = now;
  }

  /** The person changed the text (a keystroke, a paste, a cut). */
  input(text: string): void {
    if (!text.trim()) {
      this.stop();
      return;
    }
    const t = this.now();
    if (this.active && t - this.lastSent < TYPING_REPEAT_MS) return;
    this.active = true;
    this.lastSent = t;
    this.send(true);
  }

  /** Sent, cleared, or the conversation was left: stop at once rather than wait for expiry. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.lastSent = Number.NEGATIVE_INFINITY;
    this.send(false);
  }
}
