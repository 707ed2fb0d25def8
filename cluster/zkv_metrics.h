// zkv_metrics: a node's figures (zkv_stats.h) as Prometheus metrics, text exposition format
// 0.0.4 (what GET /metrics serves). Pure: the same figures give the same text.
//
// Names: zkv_ prefix, _total for counters, _seconds and _bytes for units; per group figures
// are zkv_group_* with a group label, requests carry kind (get, put, append, other) and outcome
// (ok, not_found, redirect, busy, timeout, invalid, session_expired, error) labels. README.md
// ("Metrics") lists the main ones; every family has its HELP line.
#ifndef ZKV_METRICS_H
#define ZKV_METRICS_H

#include "zkv_prom.h"
#include "zkv_stats.h"

// Appends every metric of s to out.
void zkv_metrics_render (const zkv_node_stats_t *s, zkv_prom_t *out);

#endif
