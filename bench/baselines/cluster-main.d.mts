/** Types for cluster-main.mjs (the baselines' node:cluster primary), for the `.ts` baselines. */
export declare function startClusterPrimary(options: {
  readonly port: number;
  readonly workers: number;
  readonly env?: Readonly<Record<string, string>>;
  /** cluster.SCHED_RR (the default) or cluster.SCHED_NONE. */
  readonly schedulingPolicy?: number;
}): Promise<void>;
