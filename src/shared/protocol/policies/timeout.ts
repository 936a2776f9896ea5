import type { DelayedCall } from '../clock.js';
import { RELEASE } from '../link.js';
import { IdleTimeoutError } from '../errors.js';
import type { Protocol } from '../protocol.js';

/** Any protocol class (a mixin's base must take `any[]`: TypeScript's rule for mixin constructors). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProtocolConstructor<P extends Protocol = Protocol> = new (...args: any[]) => P;

/** What {@link TimeoutMixin} adds to a protocol. */
export interface TimeoutProtocol {
  /** The timeout in seconds, or undefined when off. Change it with `setTimeout`. */
  timeOut: number | undefined;
  /** Sets (or with `undefined`, cancels) the timeout, restarting the timer. Returns the previous timeout. */
  setTimeout(seconds: number | undefined): number | undefined;
  /** Restarts the timer (call it on activity). Does nothing while no timeout is set. */
  resetTimeout(): void;
  /** Called when the timer runs out. The default closes the connection with `IdleTimeoutError`. */
  timeoutConnection(): void;
}

/**
 * Adds an idle timeout to any protocol class. Twisted's `TimeoutMixin`.
 *
 * Call `setTimeout(seconds)` (usually in `connectionMade`) and
 * `resetTimeout()` whenever the connection shows life (usually in
 * `dataReceived`). When the timer runs out, `timeoutConnection` is called;
 * the default closes the connection with `IdleTimeoutError`
 * (`SKEIN_ERR_IDLE_TIMEOUT`, counted in `skein_protocol_errors_total`). The
 * timer runs on the reactor clock, so a test drives it with a fake clock, and
 * it is cancelled when the connection is lost.
 *
 * ```ts
 * class Chat extends TimeoutMixin(LineReceiver) {
 *   override connectionMade(): void { this.setTimeout(30); }
 *   override lineReceived(line: Buffer): void { this.resetTimeout(); this.sendLine(line); }
 * }
 * ```
 */
export function TimeoutMixin<TBase extends ProtocolConstructor>(Base: TBase): TBase & ProtocolConstructor<Protocol & TimeoutProtocol> {
  return class extends Base implements TimeoutProtocol {
    /** The timeout in seconds, or undefined when off. Change it with `setTimeout`. */
    timeOut: number | undefined = undefined;
    /** @internal The pending timer. */
    timeoutCall: DelayedCall | undefined = undefined;

    /**
     * Sets (or with `undefined`, cancels) the timeout, restarting the timer.
     * Returns the previous timeout.
     */
    setTimeout(seconds: number | undefined): number | undefined {
      if (seconds !== undefined && !(seconds > 0)) throw new RangeError(`setTimeout: seconds must be a positive number (got ${seconds})`);
      const previous = this.timeOut;
      this.timeOut = seconds;
      if (seconds === undefined) {
        this.timeoutCall?.cancel();
        this.timeoutCall = undefined;
      } else if (this.timeoutCall?.active()) {
        this.timeoutCall.reset(seconds);
      } else {
        this.timeoutCall = this.callLater(seconds, () => {
          this.timeoutCall = undefined;
          if (this.connected) this.timeoutConnection();
        });
      }
      return previous;
    }

    /** Restarts the timer (call it on activity). Does nothing while no timeout is set. */
    resetTimeout(): void {
      if (this.timeOut !== undefined && this.timeoutCall?.active()) this.timeoutCall.reset(this.timeOut);
    }

    /** Called when the timer runs out. The default closes the connection with `IdleTimeoutError`. */
    timeoutConnection(): void {
      this.closeWithError(new IdleTimeoutError(`no activity for ${this.timeOut} s`));
    }

    /** @internal Cancels the timer when the connection is gone. */
    override [RELEASE](): void {
      this.timeoutCall?.cancel();
      this.timeoutCall = undefined;
      super[RELEASE]();
    }
  };
}
