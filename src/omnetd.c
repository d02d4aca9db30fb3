/* omnetd.c: the daemon's command line.
 *
 *   omnetd --role provider|consumer|relay [-c FILE] [-S STATE_DIR]
 *          [-s CONTROL_SOCKET] [-l ADDR:PORT] [-v]... [-t]
 *   omnetd --show-identity [-S STATE_DIR]
 *
 * Settings on the command line win over the file, which wins over the
 * embedded defaults. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "osutil.h"
#include "privdrop.h"
#include "privsep.h"
#include "userdirs.h"
#include "util.h"
#include "vmrun.h"

struct options {
	const char *role, *config, *state_dir, *control, *listen;
	int verbose, test, show_identity;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: omnetd --role provider|consumer|relay [-c FILE] [-S STATE_DIR]\n"
		"              [-s CONTROL_SOCKET] [-l ADDR:PORT] [-v]... [-t]\n"
		"       omnetd --show-identity [-S STATE_DIR]\n"
		"       omnetd -t [FILE]\n"
		"  --role ROLE        provider, consumer or relay\n"
		"  -c, --config FILE  configuration file (default: embedded defaults only)\n"
		"  -S, --state-dir D  identity and runtime state (default %s;\n"
		"                     an ordinary user: $XDG_STATE_HOME/omnetd, else\n"
		"                     ~/.local/state/omnetd)\n"
		"  -s, --socket PATH  control socket (default %s;\n"
		"                     an ordinary user: $XDG_RUNTIME_DIR/omnetd/omnetd.sock)\n"
		"  -l, --listen A:P   UDP address of the mesh link (default 0.0.0.0:%d; :0 any port)\n"
		"  -v, --verbose      more logging (repeatable)\n"
		"  -t, --test         check the configuration and exit\n"
		"  --show-identity    print this daemon's fingerprint (creating it if needed)\n"
		"  -h, --help         this text;  --version  the version\n",
		OMNET_STATEDIR, OMNET_RUNDIR "/omnetd.sock", OMNET_DEFAULT_PORT);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_ROLE = 256, OPT_SHOW_ID, OPT_VERSION };
	static const struct option longopts[] = {
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "test", no_argument, NULL, 't' },
		{ "show-identity", no_argument, NULL, OPT_SHOW_ID },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:S:s:l:vth", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ROLE: o->role = optarg; break;
		case 'c': o->config = optarg; break;
		case 'S': o->state_dir = optarg; break;
		case 's': o->control = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'v': o->verbose++; break;
		case 't': o->test = 1; break;
		case OPT_SHOW_ID: o->show_identity = 1; break;
		case 'h': usage(stdout); exit(0);
		case OPT_VERSION: printf("omnetd %s\n", OMNET_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	/* "omnetd -t FILE" reads as "omnetd -t -c FILE" */
	if (o->test && !o->config && optind < argc)
		o->config = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "omnetd: unexpected argument '%s'\n", argv[optind]);
		exit(2);
	}
}

/* user_defaults() - run by an ordinary user, the state and the control
 * socket default to the user's own directories (userdirs.h); the file and
 * the command line still win.  A place that cannot be found is left empty,
 * and an error only if nothing else names it (check_places()). */
struct place_errors {
	char state[512], socket[512];
};

static void user_defaults(struct config *cfg, struct place_errors *e)
{
	char rt[64];

	if (geteuid() == 0)
		return;
	if (userdirs_state(getenv("STATE_DIRECTORY"), getenv("XDG_STATE_HOME"), getenv("HOME"),
			   cfg->state_dir, sizeof(cfg->state_dir), e->state, sizeof(e->state)) < 0)
		cfg->state_dir[0] = '\0';
	if (userdirs_socket(getenv("RUNTIME_DIRECTORY"), user_runtime_dir(rt, sizeof(rt)),
			    cfg->control_socket, sizeof(cfg->control_socket), e->socket,
			    sizeof(e->socket)) < 0)
		cfg->control_socket[0] = '\0';
}

/* check_places() - the state directory, and unless only the identity is
 * wanted the control socket, were found or named */
static int check_places(const struct config *cfg, const struct options *o,
			const struct place_errors *e)
{
	if (!cfg->state_dir[0]) {
		fprintf(stderr, "omnetd: %s\n", e->state);
		return -1;
	}
	if (!cfg->control_socket[0] && !o->show_identity) {
		fprintf(stderr, "omnetd: %s\n", e->socket);
		return -1;
	}
	return 0;
}

/* load_config() - defaults (an ordinary user's own), then the file, then
 * the command line */
static int load_config(struct config *cfg, const struct options *o)
{
	struct place_errors pe = { "", "" };
	char err[1024];

	config_defaults(cfg);
	user_defaults(cfg, &pe);
	if (o->config && config_load_file(cfg, o->config, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (o->state_dir)
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", o->state_dir);
	if (o->control)
		snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s", o->control);
	if (o->listen && addr_parse(o->listen, OMNET_DEFAULT_PORT, &cfg->listen, &cfg->listen_len) < 0) {
		fprintf(stderr, "omnetd: -l %s: not ADDRESS:PORT\n", o->listen);
		return -1;
	}
	return o->test ? 0 : check_places(cfg, o, &pe);
}

/* raise_fd_limit() - every flow holds a socket: take all the descriptors
 * the hard limit allows (the soft default of 1024 is far too few) */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int show_identity(const struct config *cfg)
{
	struct identity id;
	char err[512];

	/* an ordinary user's ~/.local/state may not exist yet either */
	if (mkdir_p(cfg->state_dir, 0700) < 0) {
		fprintf(stderr, "omnetd: %s: cannot create the state directory: %s\n",
			cfg->state_dir, strerror(errno));
		return 1;
	}
	if (identity_load(&id, cfg->state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "omnetd: %s\n", err);
		return 1;
	}
	printf("%s\n", id.fingerprint);
	identity_free(&id);
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct options o = { 0 };
	char err[1024];
	enum role role;
	int ret;

	/* omnetd exec'd afresh by the daemon, before anything else is set up:
	 * the maker of a --run network's namespaces (vmrun.h), a rootless
	 * capture's helper (privsep.h); both log as the daemon does */
	/* (_exit: nothing to flush; and a leak checker's exit handler cannot
	 * fork in a PID namespace whose init has ended) */
	if (argc >= 3 && strcmp(argv[1], VMRUN_INIT_ARG) == 0)
		_exit(vmrun_init_main(argv + 2));
	if (argc == 4 && (strcmp(argv[1], VMRUN_MAKER_ARG) == 0 ||
			  strcmp(argv[1], PRIVSEP_HELPER_ARG) == 0)) {
		log_init(atoi(argv[3]) - LOG_LVL_INFO);
		if (!getenv("JOURNAL_STREAM"))
			log_set_stamp(log_stamp_local);
		if (strcmp(argv[1], VMRUN_MAKER_ARG) == 0)
			_exit(vmrun_maker_main(argv[2]));
		privsep_helper_exec_main(argv[2]);
	}
	parse_args(argc, argv, &o);
	if (load_config(&d.cfg, &o) < 0)
		return 1;
	log_init(d.cfg.log_level - LOG_LVL_INFO + o.verbose);
	/* the journal stamps each line itself (and says so in JOURNAL_STREAM) */
	if (!getenv("JOURNAL_STREAM"))
		log_set_stamp(log_stamp_local);
	if (o.test) {
		printf("%s: configuration OK\n", o.config ? o.config : "(embedded defaults)");
		config_free(&d.cfg);
		return 0;
	}
	if (o.show_identity)
		return show_identity(&d.cfg);
	if (!o.role || role_parse(o.role, &role) < 0) {
		fprintf(stderr, "omnetd: --role must be provider, consumer or relay\n");
		usage(stderr);
		return 2;
	}
	raise_fd_limit();
	if (daemon_init(&d, role, o.config, err, sizeof(err)) < 0 ||
	    privdrop(&d, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		daemon_free(&d);
		return 1;
	}
	ret = daemon_run(&d);
	daemon_free(&d);
	return ret < 0 ? 1 : 0;
}
