/**
 * How much of its budget share a process plans to spend on a provider's API. The rest is left to
 * the account's other clients (CI, the CLI, dashboards) and to what the plan cannot foresee (a
 * retry, a list that needs a second page), so that N shards never plan more than one refill together.
 */
export const PLANNED_FRACTION_OF_SHARE = 0.8;
