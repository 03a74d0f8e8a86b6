// Amounts each viewer holds on this instance (open connections, subscriptions' costs, streaming replies),
// each viewer up to the same limit.
import type { Viewer } from './auth.ts';
import { ownerKey } from './access.ts';

/** Amounts a viewer holds on this instance, each viewer up to the same limit. */
export class PerViewerShares {
  readonly #held = new Map<string, number>();

  constructor(protected readonly perViewer: number) {}

  /** Holds `amount` for the viewer; false (and nothing held) when it would pass the limit. */
  hold(viewer: Viewer, amount: number): boolean {
    const key = ownerKey(viewer);
    const held = this.#held.get(key) ?? 0;
    if (held + amount > this.perViewer) return false;
    this.#held.set(key, held + amount);
    return true;
  }

  /** Gives `amount` back; returns what the viewer still holds. */
  release(viewer: Viewer, amount: number): number {
    const key = ownerKey(viewer);
    const left = (this.#held.get(key) ?? amount) - amount;
    if (left > 0) this.#held.set(key, left);
    else this.#held.delete(key);
    return Math.max(left, 0);
  }
}
