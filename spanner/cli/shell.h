/*
 * shell.h - `spanner shell`: an interactive prompt, or with json a line
 * protocol for programs (one JSON object per line in, one per line out).
 * Private to spanner/.
 */
#ifndef SP_SHELL_H
#define SP_SHELL_H

#include "spanner.h"

#include <stdbool.h>
#include <stdio.h>

/* Runs until EOF or QUIT. history_path (may be NULL): one JSON line per
 * finished transaction, in the checker's history format (sim/README).
 * Returns 0; never exits on bad input. */
int sp_shell_run(struct sp_client *c, const char *zone, bool json, const char *history_path,
                 FILE *in, FILE *out);

#endif
