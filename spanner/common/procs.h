/*
 * procs.h - child processes for local clusters, tools and tests: spawn with
 * output to a log file and death with the parent, stop with a grace period,
 * and find free loopback ports. Private to spanner/ (and its tests).
 */
#ifndef SP_PROCS_H
#define SP_PROCS_H

#include <sys/types.h>

/* Spawns argv (NULL-terminated; argv[0] is the path) with stdout and stderr
 * appended to log_path. The child gets SIGKILL if the caller dies, so
 * nothing outlives a crashed test or tool. Returns the pid or -1. */
pid_t sp_proc_spawn(char *const argv[], const char *log_path);

/* Sends sig, waits up to grace_ms, then SIGKILL. Returns the wait status or
 * -1 (not our child). */
int sp_proc_stop(pid_t pid, int sig, int grace_ms);

/* Waits up to timeout_ms for the child to exit; its status, or -1. */
int sp_proc_wait_exit(pid_t pid, int timeout_ms);

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int sp_free_tcp_port(void);

long long sp_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds: for timeouts and latency, never for
 * timestamps (those come from TrueTime). */
long long sp_mono_us(void);

#endif
