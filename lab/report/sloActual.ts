/**
 * What an SLO target measured, in words for the summary and the report: the number, "never
 * delivered" for a latency percentile that falls among messages some client never showed
 * (SLI-1), "not measured" when there was nothing to measure.
 */
import type { LatencySli, SloCheck } from '../sli.js';

const DELIVERY: readonly SloCheck['name'][] = ['deliveryP50Ms', 'deliveryP95Ms', 'deliveryP99Ms'];

export const sloActual = (c: SloCheck, latency: LatencySli, num: (v: number) => string): string => {
  if (c.actual !== null) return num(c.actual);
  return DELIVERY.includes(c.name) && latency.undelivered > 0 ? 'never delivered' : 'not measured';
};
