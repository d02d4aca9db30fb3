/* privdrop.c: after start-up, keep only the privileges the role needs.
 *
 * No libcap: capget()/capset() and prctl() are a few lines, and the
 * daemon should not grow a dependency for them.
 *
 * The provider is two processes (privsep.c).  Its privileged helper keeps
 * what building a capture in a VM's namespace needs (capns.c), and
 * nothing else:
 *   CAP_SYS_ADMIN         setns() into the capture namespace and back;
 *   CAP_NET_ADMIN         nftables rules (the SYN gate and TPROXY),
 *                         addresses, the fwmark rule and local route,
 *                         IP_TRANSPARENT, SO_MARK on the re-injection
 *                         socket, the namespace's rp_filter;
 *   CAP_NET_RAW           the SYN gate: a packet socket on the VM's
 *                         interface, raw IPv4 sockets that re-inject SYNs
 *                         and answer refused ones;
 *   CAP_NET_BIND_SERVICE  the DHCP server's socket on UDP port 67, and
 *                         transparent sockets bound below port 1024 (a
 *                         VM's conversation with a DNS server).
 * The provider itself, which reads the wire, keeps no capability at all:
 * the sockets it is handed need none to be used.  Started as root it
 * becomes the configured user, as the consumer and relay do.
 *
 * The relay needs nothing: its UDP port (6950) is unprivileged.  The
 * consumer keeps CAP_NET_BIND_SERVICE alone, so that a port forward may
 * listen below 1024 (ssh, http), as its systemd unit grants.  Started as
 * root all three hand their state directory and control socket to the
 * configured user and become it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "daemon.h"
#include "log.h"
#include "privdrop.h"
#include "privsep.h"
#include "util.h"

#define CAPBIT(c) (UINT64_C(1) << (c))

#define PROVIDER_CAPS \
	(CAPBIT(CAP_NET_ADMIN) | CAPBIT(CAP_NET_RAW) | CAPBIT(CAP_SYS_ADMIN) | \
	 CAPBIT(CAP_NET_BIND_SERVICE))

/* capability names, indexed by number, as linux/capability.h spells them */
static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

struct caps {
	uint64_t effective, permitted, inheritable;
};

static int caps_get(struct caps *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	c->effective = d[0].effective | (uint64_t)d[1].effective << 32;
	c->permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inheritable = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int caps_set(const struct caps *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
		{ (uint32_t)c->effective, (uint32_t)c->permitted, (uint32_t)c->inheritable },
		{ (uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32),
		  (uint32_t)(c->inheritable >> 32) },
	};

	return (int)syscall(SYS_capset, &h, d);
}

/* caps_str() - "CAP_A CAP_B" for the set bits of mask, "none" for none */
static const char *caps_str(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;
	int cap;

	buf[0] = '\0';
	for (cap = 0; cap < 64 && n < len; cap++) {
		if (!(mask & CAPBIT(cap)))
			continue;
		if (cap < (int)ARRAY_SIZE(cap_names))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", cap_names[cap]);
		else
			n += (size_t)snprintf(buf + n, len - n, "%scap_%d", n ? " " : "", cap);
	}
	return buf[0] ? buf : "none";
}

/* drop_bounding() - take every capability not in keep out of the bounding
 * set, so that not even executing a file with capabilities brings one
 * back.  Needs CAP_SETPCAP, so it runs before capset() gives that up. */
static int drop_bounding(uint64_t keep, char *err, size_t errlen)
{
	struct caps c;
	int cap, r;

	/* without CAP_SETPCAP (not root) the bounding set stays as it is:
	 * no_new_privs, set next, keeps execve() from using it anyway */
	if (caps_get(&c) < 0 || !(c.effective & CAPBIT(CAP_SETPCAP)))
		cap = 64;
	else
		cap = 0;
	for (; cap < 64; cap++) {
		r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break; /* EINVAL: past the running kernel's last capability */
		if (r == 0 || (keep & CAPBIT(cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s",
				 cap, strerror(errno));
			return -1;
		}
	}
	/* the ambient set is refilled from nothing; kernels before 4.3 lack it */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* keep_only() - effective = permitted = keep, inheritable empty */
static int keep_only(uint64_t keep, char *err, size_t errlen)
{
	struct caps c = { .effective = keep, .permitted = keep, .inheritable = 0 };

	if (drop_bounding(keep, err, errlen) < 0)
		return -1;
	if (caps_set(&c) < 0) {
		snprintf(err, errlen, "cannot set capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int no_new_privs(char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* warn_missing() - a provider without one of its capabilities starts, but
 * `network add` will fail: say so now, and which one */
static void warn_missing(uint64_t have)
{
	char buf[256];

	if ((have & PROVIDER_CAPS) != PROVIDER_CAPS)
		log_warnx("privileges: provider lacks %s: network add will fail",
			  caps_str(PROVIDER_CAPS & ~have, buf, sizeof(buf)));
}

/* lookup_user() - the user by name, or a numeric uid with or without a
 * passwd entry (then its gid is the same number) */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	const struct passwd *pw = getpwnam(name);
	char *end;
	unsigned long n;

	if (pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		return 0;
	}
	errno = 0;
	n = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && !*end && !errno && n < (uid_t)-1) {
		pw = getpwuid((uid_t)n);
		*uid = (uid_t)n;
		*gid = pw ? pw->pw_gid : (gid_t)n;
		return 0;
	}
	snprintf(err, errlen, "user %s not found; create it or set user = in the configuration",
		 name);
	return -1;
}

/* give_dir_files() - chown the regular files directly inside dirfd that
 * omnetd keeps there (identity, state).  Symbolic links are not followed
 * and files with other names (hard links) are left alone: a directory the
 * user owned before may hold what the user put there. */
static int give_dir_files(int dirfd, uid_t uid, gid_t gid)
{
	int fd = dup(dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	const struct dirent *e;
	struct stat st;
	int ret = 0;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(dir))) {
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_nlink != 1)
			continue;
		if (fchownat(dirfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			ret = -1;
	}
	closedir(dir);
	return ret;
}

/* give_state_dir() - the state directory and its files to the user.  A
 * directory anybody may write to (-S /tmp) is refused: handing it, or
 * what others put there, to the user would be a gift to them. */
static int give_state_dir(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (st.st_mode & (S_IWOTH | S_ISVTX)) {
		snprintf(err, errlen, "%s: writable by everybody: will not hand it to the daemon's "
			 "user; give omnetd a state directory of its own", path);
		close(fd);
		return -1;
	}
	if (fchown(fd, uid, gid) < 0 || give_dir_files(fd, uid, gid) < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot hand the state directory to uid %u: %s", path,
		 (unsigned)uid, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* give_control() - the control socket to the user, so that the user's
 * omnetctl may connect (mode 0660); and its directory when it is omnetd's
 * own run directory, so that the daemon can remove the socket on exit */
static int give_control(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');

	if (fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s: cannot hand the control socket to uid %u: %s", path,
			 (unsigned)uid, strerror(errno));
		return -1;
	}
	if (slash && (size_t)(slash - path) == strlen(OMNET_RUNDIR) &&
	    strncmp(path, OMNET_RUNDIR, strlen(OMNET_RUNDIR)) == 0 &&
	    fchownat(AT_FDCWD, OMNET_RUNDIR, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s: cannot hand the directory to uid %u: %s", OMNET_RUNDIR,
			 (unsigned)uid, strerror(errno));
		return -1;
	}
	return 0;
}

#define CONSUMER_CAPS CAPBIT(CAP_NET_BIND_SERVICE)

/* become() - this process's groups, gid and uid become the user's, keeping
 * the permitted capabilities only if asked (keep_only() then trims them);
 * then make sure root cannot be had back */
static int become(uid_t uid, gid_t gid, int keepcaps, char *err, size_t errlen)
{
	if (prctl(PR_SET_KEEPCAPS, keepcaps, 0, 0, 0) < 0 || setgroups(1, &gid) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		snprintf(err, errlen, "cannot switch to uid %u, gid %u: %s", (unsigned)uid,
			 (unsigned)gid, strerror(errno));
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "could switch back to root after dropping privileges");
		return -1;
	}
	return 0;
}

static int drop_unprivileged(const struct daemon *d, char *err, size_t errlen)
{
	const char *role = role_name(d->role);
	uint64_t keep = d->role == ROLE_CONSUMER ? CONSUMER_CAPS : 0;
	char buf[256];
	uid_t uid;
	gid_t gid;

	if (lookup_user(d->cfg.user, &uid, &gid, err, errlen) < 0)
		return -1;
	if (uid != 0 && (give_state_dir(d->cfg.state_dir, uid, gid, err, errlen) < 0 ||
			 give_control(d->cfg.control_socket, uid, gid, err, errlen) < 0))
		return -1;
	/* the bounding set first: dropping it needs CAP_SETPCAP */
	if (drop_bounding(keep, err, errlen) < 0 || become(uid, gid, keep != 0, err, errlen) < 0 ||
	    keep_only(keep, err, errlen) < 0 || no_new_privs(err, errlen) < 0)
		return -1;
	if (uid == 0)
		log_info("privileges: %s stays root (user = %s) with capabilities: %s", role,
			 d->cfg.user, caps_str(keep, buf, sizeof(buf)));
	else
		log_info("privileges: %s runs as user %s (uid %u, gid %u) with capabilities: %s",
			 role, d->cfg.user, (unsigned)uid, (unsigned)gid,
			 caps_str(keep, buf, sizeof(buf)));
	return 0;
}

/* drop_provider() - the provider with its helper: no capability left
 * here; started as root, the configured user as well */
static int drop_provider(const struct daemon *d, char *err, size_t errlen)
{
	if (geteuid() == 0) {
		if (drop_unprivileged(d, err, errlen) < 0)
			return -1;
	} else {
		if (keep_only(0, err, errlen) < 0 || no_new_privs(err, errlen) < 0)
			return -1;
		log_info("privileges: provider runs as uid %u with capabilities: none",
			 (unsigned)geteuid());
	}
	log_info("privileges: captures are set up by the helper, pid %d",
		 (int)privsep_pid(d->privsep));
	return 0;
}

int privdrop_capture_caps(void)
{
	struct caps c;

	return caps_get(&c) == 0 && (c.permitted & PROVIDER_CAPS) != 0;
}

int privdrop_helper(char *err, size_t errlen)
{
	struct caps c;
	uint64_t keep;
	char buf[256];

	if (caps_get(&c) < 0) {
		snprintf(err, errlen, "cannot read capabilities: %s", strerror(errno));
		return -1;
	}
	keep = c.permitted & PROVIDER_CAPS;
	if (keep_only(keep, err, errlen) < 0 || no_new_privs(err, errlen) < 0)
		return -1;
	log_info("privileges: capture helper (pid %d, uid %u) keeps %s; every other capability "
		 "dropped", (int)getpid(), (unsigned)geteuid(), caps_str(keep, buf, sizeof(buf)));
	warn_missing(keep);
	return 0;
}

int privdrop(const struct daemon *d, char *err, size_t errlen)
{
	struct caps c;
	char buf[256];

	if (d->role == ROLE_PROVIDER && d->privsep)
		return drop_provider(d, err, errlen);
	if (geteuid() != 0) {
		/* whoever started us chose the privileges (systemd: User=,
		 * AmbientCapabilities=); only report them */
		if (caps_get(&c) < 0)
			c.effective = 0;
		log_info("privileges: started as uid %u, not root: nothing to drop; capabilities: %s",
			 (unsigned)geteuid(), caps_str(c.effective, buf, sizeof(buf)));
		if (d->role == ROLE_PROVIDER && !(c.effective & PROVIDER_CAPS))
			log_info("privileges: rootless provider: each capture runs in a user "
				 "namespace of this user's, with a helper of its own");
		else if (d->role == ROLE_PROVIDER)
			warn_missing(c.effective);
		return 0;
	}
	return drop_unprivileged(d, err, errlen);
}
