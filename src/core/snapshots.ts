// Snapshots of an aggregate's state, for streams that grow long (a product's: one reservation per order).
// An aggregate opts in with a policy; the command handler then starts a cold read from the stream's last
// snapshot and folds the events after it (always: a snapshot is never trusted without them), and writes
// a new one every `every` events. A snapshot of another decider version is ignored.
export type SnapshotPolicy = {
  /** A snapshot after every this many events of the stream. */
  every: number;
  /** Bump it when the decider's state changes shape or meaning: older snapshots are then ignored. */
  deciderVersion: number;
};

export type Snapshot<S = unknown> = { version: number; state: S };

/** Where snapshots live (beside the events, in infra/event-store). One per stream: the newest. */
export type SnapshotStore = {
  /** The stream's snapshot for this decider version, if any. */
  load(streamId: string, deciderVersion: number): Promise<Snapshot | null>;
  /** Keeps `snapshot` unless the stream already has a newer one. */
  save(streamId: string, streamType: string, deciderVersion: number, snapshot: Snapshot): Promise<void>;
};

/** Whether the events from `before` (exclusive) to `after` (inclusive) cross a multiple of `every`. */
export const crossesSnapshot = (before: number, after: number, every: number) => Math.floor(after / every) > Math.floor(before / every);
