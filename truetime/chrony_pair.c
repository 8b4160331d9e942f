/*
 * chrony_pair.c - start and stop a private chronyd pair on loopback.
 *
 * Used by tests, the demo and local clusters so TrueTime has a real chronyd
 * to talk to without touching the machine's clock: both daemons run with -x
 * (never adjust the system clock) and -u root (so they keep access to the
 * 0700 socket directory). See shared/notes/chrony.md.
 */
#include "truetime.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *find_chronyd(void)
{
    static const char *const paths[] = {"/usr/sbin/chronyd", "/sbin/chronyd",
                                        "/usr/local/sbin/chronyd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* A currently free UDP port on 127.0.0.1 (the kernel picks it). */
static int free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int write_file(const char *path, const char *text, struct sp_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        return sp_err_set(err, SP_EIO, "chrony pair: cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int spawn(const char *dir, const char *name, int *pid_out, struct sp_err *err)
{
    const char *bin = find_chronyd();
    if (!bin)
        return sp_err_set(err, SP_ENOTFOUND, "chrony pair: chronyd not found (apt-get install "
                                             "chrony)");
    char conf[160], log[160], pidf[160];
    snprintf(conf, sizeof conf, "%s/%s.conf", dir, name);
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    snprintf(pidf, sizeof pidf, "%s/%s.pid", dir, name);
    unlink(pidf); /* a stale pid file makes chronyd refuse to start */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return sp_err_set(err, SP_EIO, "chrony pair: fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(bin, "chronyd", "-u", "root", "-x", "-d", "-f", conf, (char *) NULL);
        _exit(127);
    }
    *pid_out = pid;
    return 0;
}

static void stop_pid(int *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 300; i++) { /* 3 s */
        if (waitpid(*pid, NULL, WNOHANG) != 0)
            goto done;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
done:
    *pid = 0;
}

static int write_configs(struct tt_chrony_pair *p, struct sp_err *err)
{
    char path[160], text[1024];
    snprintf(text, sizeof text,
             "local stratum 8\nallow 127.0.0.1\nbindaddress 127.0.0.1\nport %d\ncmdport 0\n"
             "driftfile %s/server.drift\npidfile %s/server.pid\n",
             p->server_port, p->dir, p->dir);
    snprintf(path, sizeof path, "%s/server.conf", p->dir);
    int rc = write_file(path, text, err);
    if (rc)
        return rc;
    snprintf(text, sizeof text,
             "server 127.0.0.1 port %d iburst minpoll -2 maxpoll 0\nport 0\n"
             "bindcmdaddress %s\nbindcmdaddress 127.0.0.1\ncmdport %d\n"
             "driftfile %s/client.drift\npidfile %s/client.pid\n",
             p->server_port, p->socket_path, p->client_cmd_port, p->dir, p->dir);
    snprintf(path, sizeof path, "%s/client.conf", p->dir);
    return write_file(path, text, err);
}

int tt_chrony_pair_start(const char *dir, struct tt_chrony_pair *p, struct sp_err *err)
{
    SP_ASSERT(dir != NULL && p != NULL);
    memset(p, 0, sizeof *p);
    if (strlen(dir) > 80)
        return sp_err_set(err, SP_EINVAL, "chrony pair: directory path \"%s\" is longer than 80 "
                                          "bytes (Unix socket paths are limited)", dir);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    char run[96];
    snprintf(run, sizeof run, "%.80s/run", dir);
    if ((mkdir(run, 0700) != 0 && errno != EEXIST) || chmod(run, 0700) != 0)
        return sp_err_set(err, SP_EIO, "chrony pair: mkdir %s: %s", run, strerror(errno));
    snprintf(p->socket_path, sizeof p->socket_path, "%.80s/run/chronyd.sock", dir);
    p->server_port = free_udp_port();
    p->client_cmd_port = free_udp_port();
    if (p->server_port <= 0 || p->client_cmd_port <= 0 || p->server_port == p->client_cmd_port)
        return sp_err_set(err, SP_EIO, "chrony pair: cannot find free UDP ports on 127.0.0.1");
    int rc = write_configs(p, err);
    if (rc == 0)
        rc = spawn(dir, "server", &p->server_pid, err);
    if (rc == 0)
        rc = spawn(dir, "client", &p->client_pid, err);
    if (rc)
        tt_chrony_pair_stop(p);
    return rc;
}

void tt_chrony_pair_stop_client(struct tt_chrony_pair *p)
{
    stop_pid(&p->client_pid);
}

int tt_chrony_pair_start_client(struct tt_chrony_pair *p, struct sp_err *err)
{
    SP_ASSERT(p->client_pid == 0);
    return spawn(p->dir, "client", &p->client_pid, err);
}

void tt_chrony_pair_stop(struct tt_chrony_pair *p)
{
    stop_pid(&p->client_pid);
    stop_pid(&p->server_pid);
}

void tt_chrony_pair_config(const struct tt_chrony_pair *p, struct tt_config *cfg)
{
    tt_config_init(cfg);
    cfg->backend = TT_BACKEND_CHRONY;
    snprintf(cfg->chrony_socket, sizeof cfg->chrony_socket, "%s", p->socket_path);
    cfg->chrony_udp_port = 0;
}
