// Loaders shared by the subscribers that receive one event. A subscription keeps its context for life
// and each event must see the rows as they are at that event; were each subscriber to read them for
// itself, an event delivered to N subscribers would read the same rows N times (1,100 sidebars took 54 s
// to receive 20 events: bench/RESULTS.md, "Fan-out"). Subscribers that get the same event object (one publish, one log entry) and act
// as the same viewer share one set of loaders, made for that event: the rows are read once, by the first
// of them, through the same owner checks as before. Different viewers never share (tenancy), and a set
// is dropped soon after its event has gone by.
import type { Viewer } from './auth.ts';
import { createLoaders, type LoaderSources, type Loaders } from './loaders.ts';
import { ownerKey } from './access.ts';

/** Subscribers of one event get it within this long of each other, or read the rows again themselves. */
const SHARED_FOR_MS = 2_000;
// (The timer bounds how long a set lives; the WeakMap lets an event that is dropped sooner take its set along.)

export class EventLoaders {
  readonly #sources: LoaderSources;
  readonly #byEvent = new WeakMap<object, Map<string, Loaders>>();

  constructor(sources: LoaderSources) {
    this.#sources = sources;
  }

  /** The loaders of this event for this viewer: made by the first subscriber that asks. */
  for(event: object, viewer: Viewer): Loaders {
    let byViewer = this.#byEvent.get(event);
    if (!byViewer) {
      this.#byEvent.set(event, (byViewer = new Map()));
      setTimeout(() => this.#byEvent.delete(event), SHARED_FOR_MS).unref();
    }
    const key = ownerKey(viewer);
    let loaders = byViewer.get(key);
    if (!loaders) byViewer.set(key, (loaders = createLoaders(this.#sources, viewer)));
    return loaders;
  }
}
