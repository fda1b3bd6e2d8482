/*
 * lunard: the daemon's main. Parses options, starts the reactors, the SCSI
 * core, the iSCSI transport and the control socket, loads the config, and
 * runs the main reactor until SIGTERM/SIGINT; then stops accepting, lets
 * in-flight commands finish, closes sessions and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event/reactor.h"
#include "iscsi/iscsi.h"
#include "iscsi/isns.h"
#include "mgmt/mgmt.h"
#include "scsi/mode.h"
#include "scsi/pr.h"
#include "scsi/scsi.h"
#include "scsi/target.h"
#include "util/list.h"
#include "util/log.h"
#include "util/notify.h"
#include "version.h"

#define LUNARD_MAX_PORTALS 32

struct lunard_options {
	const char *portals[LUNARD_MAX_PORTALS + 1];
	unsigned nr_portals;
	const char *control_path;
	const char *config_path;
	const char *state_dir;
	unsigned threads;
	bool foreground;
	int nop_interval; /* seconds; -1: default */
	int nop_timeout;
	const char *isns_server; /* --isns HOST[:PORT]; NULL: off */
	const char *isns_entity;
	bool isns_dd;
	const char *metrics; /* ADDR:PORT of the Prometheus endpoint */
	bool no_stats;
	const char *pidfile; /* --pidfile PATH; NULL: none */
};

static struct reactor *main_reactor;
static struct reactor_handler signal_handler;
static int signal_fd = -1;
static bool shutting_down;
static int pidfile_fd = -1;
static const char *pidfile_path;

/* The usage text stays as it reads, one option a line. */
/* clang-format off */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: lunard [options]\n"
		"  --portal ADDR:PORT   listen for iSCSI on ADDR:PORT; repeatable;\n"
		"                       IPv6 as [ADDR]:PORT (default 0.0.0.0:3260)\n"
		"  --control PATH       control socket (default %s)\n"
		"  --config FILE        JSON configuration loaded at start, and\n"
		"                       the default target of 'config save'\n"
		"  --state-dir DIR      persistent state (default %s)\n"
		"  --threads N          I/O reactor threads (default: online CPUs)\n"
		"  --nop-interval SECS  ping an idle connection with a NOP-In after\n"
		"                       SECS of silence; 0 never pings (default 10)\n"
		"  --nop-timeout SECS   drop a connection that does not answer a\n"
		"                       ping within SECS (default 60)\n"
		"  --isns HOST[:PORT]   register the entity, its portals and every\n"
		"                       target with this iSNS server (RFC 4171;\n"
		"                       port 3205 by default), keep them current\n"
		"                       and deregister at shutdown\n"
		"  --isns-entity EID    the iSNS entity identifier (default\n"
		"                       lunar:HOSTNAME)\n"
		"  --isns-dd            SendTargets lists only the targets that\n"
		"                       share an iSNS discovery domain with the\n"
		"                       initiator (needs --isns)\n"
		"  --metrics ADDR:PORT  serve Prometheus metrics at\n"
		"                       http://ADDR:PORT/metrics (e.g. 127.0.0.1:9100;\n"
		"                       off by default; needs libmicrohttpd)\n"
		"  --no-stats           count nothing per command (statistics read\n"
		"                       zero; for measuring what counting costs)\n"
		"  --foreground         stay in the foreground, log to stderr\n"
		"                       (the journal when run by systemd)\n"
		"  --pidfile PATH       write lunard's pid to PATH once it serves,\n"
		"                       locked while it runs (a second lunard on\n"
		"                       it refuses to start), removed at exit\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  --log-target TARGET  auto (default: the journal when systemd\n"
		"                       connected stderr to it, else stderr in the\n"
		"                       foreground, syslog as a daemon), stderr,\n"
		"                       syslog or journal\n"
		"  --version, --help\n",
		LUNAR_DEFAULT_CONTROL, LUNAR_DEFAULT_STATE_DIR);
}
/* clang-format on */

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Paths are used after daemonize() moved to "/": make them absolute. */
static const char *absolute_path(const char *path)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char cwd[PATH_MAX];
	char *buf;

	if (!path || path[0] == '/')
		return path;
	if (!getcwd(cwd, sizeof(cwd)) || next == 4)
		return path;
	buf = bufs[next++];
	if (snprintf(buf, PATH_MAX, "%s/%s", cwd, path) >= PATH_MAX)
		return path;
	return buf;
}

static int parse_options(int argc, char **argv, struct lunard_options *o)
{
	enum {
		OPT_PORTAL = 256,
		OPT_CONTROL,
		OPT_CONFIG,
		OPT_STATE,
		OPT_THREADS,
		OPT_FG,
		OPT_LOG,
		OPT_VERSION,
		OPT_HELP,
		OPT_NOP_INTERVAL,
		OPT_NOP_TIMEOUT,
		OPT_ISNS,
		OPT_ISNS_ENTITY,
		OPT_ISNS_DD,
		OPT_METRICS,
		OPT_NO_STATS,
		OPT_PIDFILE,
		OPT_LOG_TARGET
	};
	static const struct option longopts[] = {
	    {"portal", required_argument, NULL, OPT_PORTAL},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"state-dir", required_argument, NULL, OPT_STATE},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"nop-interval", required_argument, NULL, OPT_NOP_INTERVAL},
	    {"nop-timeout", required_argument, NULL, OPT_NOP_TIMEOUT},
	    {"isns", required_argument, NULL, OPT_ISNS},
	    {"isns-entity", required_argument, NULL, OPT_ISNS_ENTITY},
	    {"isns-dd", no_argument, NULL, OPT_ISNS_DD},
	    {"metrics", required_argument, NULL, OPT_METRICS},
	    {"no-stats", no_argument, NULL, OPT_NO_STATS},
	    {"foreground", no_argument, NULL, OPT_FG},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"log-target", required_argument, NULL, OPT_LOG_TARGET},
	    {"pidfile", required_argument, NULL, OPT_PIDFILE},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	o->control_path = LUNAR_DEFAULT_CONTROL;
	o->state_dir = LUNAR_DEFAULT_STATE_DIR;
	o->threads = nproc > 0 ? (unsigned)nproc : 1;
	o->nop_interval = -1;
	o->nop_timeout = -1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PORTAL:
			if (o->nr_portals == LUNARD_MAX_PORTALS) {
				fprintf(stderr,
					"lunard: at most %d --portal options\n",
					LUNARD_MAX_PORTALS);
				return -1;
			}
			o->portals[o->nr_portals++] = optarg;
			break;
		case OPT_CONTROL:
			o->control_path = optarg;
			break;
		case OPT_CONFIG:
			o->config_path = optarg;
			break;
		case OPT_STATE:
			o->state_dir = optarg;
			break;
		case OPT_THREADS: {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 ||
			    n > 256) {
				fprintf(stderr,
					"lunard: --threads '%s': give a number "
					"from 1 to 256\n",
					optarg);
				return -1;
			}
			o->threads = (unsigned)n;
			break;
		}
		case OPT_NOP_INTERVAL:
		case OPT_NOP_TIMEOUT: {
			const char *name = c == OPT_NOP_INTERVAL
					       ? "--nop-interval"
					       : "--nop-timeout";
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n > 3600 ||
			    (c == OPT_NOP_TIMEOUT && n == 0)) {
				fprintf(stderr,
					"lunard: %s '%s': give seconds from %d "
					"to 3600\n",
					name, optarg, c == OPT_NOP_TIMEOUT);
				return -1;
			}
			if (c == OPT_NOP_INTERVAL)
				o->nop_interval = (int)n;
			else
				o->nop_timeout = (int)n;
			break;
		}
		case OPT_ISNS:
			o->isns_server = optarg;
			break;
		case OPT_ISNS_ENTITY:
			o->isns_entity = optarg;
			break;
		case OPT_ISNS_DD:
			o->isns_dd = true;
			break;
		case OPT_METRICS: {
			char why[256];

			if (mgmt_metrics_check(optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "lunard: %s\n", why);
				return -1;
			}
			if (!mgmt_metrics_built()) {
				fprintf(stderr,
					"lunard: --metrics %s: this lunard was "
					"built without libmicrohttpd; install "
					"libmicrohttpd-dev (scripts/deps.sh "
					"build) and rebuild\n",
					optarg);
				return -1;
			}
			o->metrics = optarg;
			break;
		}
		case OPT_NO_STATS:
			o->no_stats = true;
			break;
		case OPT_FG:
			o->foreground = true;
			break;
		case OPT_LOG: {
			enum log_level lvl;

			if (log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr,
					"lunard: --log-level '%s': use error, "
					"warn, info or debug\n",
					optarg);
				return -1;
			}
			log_set_level(lvl);
			break;
		}
		case OPT_LOG_TARGET: {
			enum log_target t;

			if (log_parse_target(optarg, &t) < 0) {
				fprintf(stderr,
					"lunard: --log-target '%s': use auto, "
					"stderr, syslog or journal\n",
					optarg);
				return -1;
			}
			if (log_set_target(t) < 0) {
				fprintf(
				    stderr,
				    "lunard: --log-target journal: this "
				    "lunard was built without libsystemd; "
				    "install libsystemd-dev (scripts/deps.sh "
				    "build) and rebuild\n");
				return -1;
			}
			break;
		}
		case OPT_PIDFILE:
			o->pidfile = optarg;
			break;
		case OPT_VERSION:
			printf("lunard %s\n", LUNAR_VERSION);
			exit(0);
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lunard: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return -1;
	}
	if ((o->isns_dd || o->isns_entity) && !o->isns_server) {
		fprintf(stderr, "lunard: --isns-dd and --isns-entity need "
				"--isns HOST[:PORT] (the iSNS server)\n");
		return -1;
	}
	o->control_path = absolute_path(o->control_path);
	o->config_path = absolute_path(o->config_path);
	o->state_dir = absolute_path(o->state_dir);
	o->pidfile = absolute_path(o->pidfile);
	if (o->nr_portals == 0)
		o->portals[o->nr_portals++] = "0.0.0.0:3260";
	o->portals[o->nr_portals] = NULL;
	return 0;
}

static void lunard_shutdown_done(void *arg)
{
	log_info("all sessions closed; exiting");
	reactor_stop(main_reactor);
}

static void lunard_isns_stopped(void *arg)
{
	iscsi_shutdown(lunard_shutdown_done, NULL);
}

static void lunard_on_signal(void *arg, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			continue;
		if (shutting_down) {
			log_warn("second signal: exiting without waiting");
			reactor_stop(main_reactor);
			return;
		}
		shutting_down = true;
		notify_send("STOPPING=1\nSTATUS=stopping: finishing in-flight "
			    "commands, closing sessions");
		log_info("signal %u: stopping (finishing in-flight commands)",
			 si.ssi_signo);
		/* Deregister first: initiators stop finding us at once. */
		isns_stop(lunard_isns_stopped, NULL);
	}
}

/*
 * --pidfile: locked (flock, so the lock goes with the process however it
 * ends) before anything else starts, so a second lunard on the same file
 * refuses at once; the pid is written once lunard serves (after
 * daemonize: the lock is on the open file and survives the forks).
 */
/* Unlinked while still locked: a lunard starting now either sees our
 * lock or no file; then the lock goes with the descriptor. From atexit:
 * a start that fails after taking the lock leaves no file behind either
 * (the parents of daemonize leave with _exit and keep it). */
static void pidfile_remove(void)
{
	if (pidfile_fd < 0)
		return;
	unlink(pidfile_path);
	close(pidfile_fd);
	pidfile_fd = -1;
}

static int pidfile_lock(const char *path)
{
	char pid[32] = "";
	ssize_t n;

	pidfile_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfile_fd < 0) {
		fprintf(stderr, "lunard: --pidfile %s: cannot open: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (flock(pidfile_fd, LOCK_EX | LOCK_NB) == 0) {
		/* Readable by all (umask 077 made it 0600). */
		(void)fchmod(pidfile_fd, 0644);
		pidfile_path = path;
		atexit(pidfile_remove);
		return 0;
	}
	n = pread(pidfile_fd, pid, sizeof(pid) - 1, 0);
	if (n > 0) {
		pid[n] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
	}
	fprintf(stderr,
		"lunard: --pidfile %s is locked by another lunard (pid %s); "
		"stop it first or give another --pidfile\n",
		path, pid[0] ? pid : "not written yet");
	close(pidfile_fd);
	pidfile_fd = -1;
	return -1;
}

static void pidfile_write(const char *path)
{
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	if (ftruncate(pidfile_fd, 0) < 0 ||
	    pwrite(pidfile_fd, pid, (size_t)len, 0) != len)
		log_warn("--pidfile %s: cannot write the pid: %s", path,
			 strerror(errno));
}

/* "serving N targets on PORTALS" for the STATUS= of systemctl status. */
static void notify_status(void)
{
	char portals[LUNARD_MAX_PORTALS][64];
	char line[512];
	size_t np = iscsi_portal_list(portals, LUNARD_MAX_PORTALS);
	unsigned nt = 0;
	struct list_head *head = scsi_target_list();
	int len;

	for (struct list_head *pos = head->next; pos != head; pos = pos->next)
		nt++;
	len = snprintf(line, sizeof(line), "serving %u target%s on", nt,
		       nt == 1 ? "" : "s");
	for (size_t i = 0; i < np && len > 0 && (size_t)len < sizeof(line); i++)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s",
				i ? ", " : " ", portals[i]);
	notify_send("READY=1\nMAINPID=%ld\nSTATUS=%s", (long)getpid(), line);
}

static int daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir("/") < 0)
		return -errno;
	log_use_syslog(1);
	return 0;
}

/*
 * Every session holds a socket, and a failover brings thousands at once:
 * the soft limit on descriptors (often 1024) goes up to the hard one.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rlim_t was = rl.rlim_cur;

	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("open file limit raised from %llu to %llu (about as "
			 "many sessions)",
			 (unsigned long long)was,
			 (unsigned long long)rl.rlim_max);
}

int main(int argc, char **argv)
{
	struct lunard_options o = {0};
	struct iscsi_limits lim;
	char err[512];
	sigset_t mask;
	int rc;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	/* A statistics shard per reactor, before any target exists. */
	scsi_stats_set_writers(o.threads);
	umask(077);
	rc = mkdir_p(o.state_dir, 0700);
	if (rc < 0) {
		fprintf(stderr, "lunard: cannot create state dir %s: %s\n",
			o.state_dir, strerror(-rc));
		return 1;
	}
	if (o.pidfile && pidfile_lock(o.pidfile) < 0)
		return 1;
	if (!o.foreground && daemonize() < 0) {
		fprintf(stderr, "lunard: cannot daemonize: %s\n",
			strerror(errno));
		return 1;
	}

	/* Signals are read from a signalfd on the main reactor; every other
	 * thread inherits the blocked mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	rc = reactor_create(&main_reactor, "lunar-main");
	if (rc < 0) {
		log_error("cannot create the main reactor: %s", strerror(-rc));
		return 1;
	}
	struct mgmt_options mo = {
	    .control_path = o.control_path,
	    .state_dir = o.state_dir,
	    .config_path = o.config_path,
	    .threads = o.threads,
	    .portals = o.portals,
	};
	/* The control socket first: a second lunard on the same socket must
	 * refuse before it touches any portal. */
	rc = mgmt_init(main_reactor, &mo, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return 1;
	}
	rc = scsi_core_init(main_reactor);
	if (rc < 0) {
		log_error("cannot start the SCSI core: %s", strerror(-rc));
		goto out_mgmt;
	}
	/* Saved mode pages (MODE SELECT with SP=1) live in the state dir. */
	rc = scsi_mode_set_state_dir(o.state_dir);
	if (rc < 0) {
		log_error("cannot start the SCSI core: %s", strerror(-rc));
		goto out_core;
	}
	/* So does persistent reservation state saved with APTPL. */
	rc = scsi_pr_set_state_dir(o.state_dir);
	if (rc < 0) {
		log_error("cannot start the SCSI core: %s", strerror(-rc));
		goto out_core;
	}
	/* Before any reactor runs: the flag is read without a barrier. */
	scsi_stats_enabled = !o.no_stats;
	rc = reactor_pool_start(o.threads);
	if (rc < 0) {
		log_error("cannot start %u reactor threads: %s", o.threads,
			  strerror(-rc));
		goto out_core;
	}
	iscsi_limits_default(&lim);
	if (o.nop_interval >= 0)
		lim.nop_interval_ms = (uint32_t)o.nop_interval * 1000;
	if (o.nop_timeout >= 0)
		lim.nop_timeout_ms = (uint32_t)o.nop_timeout * 1000;
	rc = iscsi_init(main_reactor, &lim);
	if (rc < 0) {
		log_error("cannot start the iSCSI transport: %s",
			  strerror(-rc));
		goto out_pool;
	}
	for (unsigned i = 0; i < o.nr_portals; i++) {
		rc = iscsi_portal_listen(o.portals[i], err, sizeof(err));
		if (rc < 0) {
			log_error("%s", err);
			goto out_iscsi;
		}
	}
	if (o.config_path) {
		if (access(o.config_path, F_OK) == 0) {
			rc = mgmt_config_load(o.config_path, err, sizeof(err));
			if (rc < 0) {
				log_error("%s", err);
				goto out_iscsi;
			}
			log_info("configuration loaded from %s", o.config_path);
		} else {
			log_info("config file %s does not exist yet; "
				 "'lunarctl config save' will create it",
				 o.config_path);
		}
	}

	/* After the portals and the configuration: the first registration
	 * carries them all. Later changes arrive through mgmt's hook. */
	struct isns_options io = {.server = o.isns_server,
				  .entity_id = o.isns_entity,
				  .discovery_domains = o.isns_dd};
	rc = isns_init(main_reactor, &io, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		goto out_iscsi;
	}
	mgmt_on_change(isns_changed, NULL);
	/* After daemonize (a thread does not survive fork) and the config. */
	if (o.metrics) {
		rc = mgmt_metrics_start(o.metrics, err, sizeof(err));
		if (rc < 0) {
			log_error("%s", err);
			goto out_iscsi;
		}
	}

	signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0 ||
	    reactor_add(main_reactor, &signal_handler, signal_fd, EPOLLIN,
			lunard_on_signal, NULL) < 0) {
		log_error("cannot watch signals: %s", strerror(errno));
		rc = -errno;
		goto out_iscsi;
	}
	log_info("lunard %s ready: %u I/O threads, control socket %s",
		 LUNAR_VERSION, o.threads, o.control_path);
	/* Portals listen, the control socket accepts, the config is applied:
	 * the service manager may start what depends on lunard. */
	if (o.pidfile)
		pidfile_write(o.pidfile);
	notify_status();
	rc = reactor_run(main_reactor);

	reactor_remove(main_reactor, &signal_handler);
	close(signal_fd);
out_iscsi:
	isns_exit();
	mgmt_metrics_stop();
	iscsi_exit();
out_pool:
	reactor_pool_stop();
out_core:
	scsi_core_exit();
out_mgmt:
	mgmt_exit();
	reactor_destroy(main_reactor);
	pidfile_remove();
	return rc < 0 ? 1 : 0;
}
