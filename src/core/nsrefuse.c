/* nsrefuse.c: the operator's words for a refused user namespace or tap. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nsrefuse.h"

#ifndef OMNET_DATADIR
#define OMNET_DATADIR "/usr/share/omnet"
#endif

/* why() - the restriction in force, most specific first; NULL if none of
 * those the sysctls show */
static const char *why(const struct userns_sysctls *s, int err, char *buf, size_t len)
{
	if (s->unprivileged_userns_clone == 0)
		return "kernel.unprivileged_userns_clone is 0, so only root may make user "
		       "namespaces on this host: set it to 1 (sysctl -w "
		       "kernel.unprivileged_userns_clone=1, and in /etc/sysctl.d to keep it), or "
		       "run the provider as root";
	if (s->max_user_namespaces == 0)
		return "user.max_user_namespaces is 0, so user namespaces are disabled: set it "
		       "above 0 (sysctl -w user.max_user_namespaces=...), or run the provider as root";
	if (err == ENOSPC) {
		snprintf(buf, len, "the limit of user namespaces (user.max_user_namespaces = %ld, "
			 "or a parent namespace's) is reached", s->max_user_namespaces);
		return buf;
	}
	if (s->apparmor_restrict == 1)
		return "kernel.apparmor_restrict_unprivileged_userns is 1: AppArmor gives a user "
		       "namespace's capabilities only to programs whose profile allows userns; "
		       "copy omnetd's profile (" OMNET_DATADIR "/apparmor.d/omnetd) to "
		       "/etc/apparmor.d and load it (apparmor_parser -r /etc/apparmor.d/omnetd), "
		       "or run the provider as root";
	return NULL;
}

const char *nsrefuse_userns(const struct userns_sysctls *s, const char *step, int err,
			    char *buf, size_t len)
{
	char tmp[160];
	const char *w = why(s, err, tmp, sizeof(tmp));

	if (w)
		snprintf(buf, len, "cannot make a user namespace (%s: %s): %s", step, strerror(err),
			 w);
	else if (s->seccomp == 2)
		snprintf(buf, len, "cannot make a user namespace (%s: %s): no sysctl forbids it, "
			 "but this process runs under a seccomp filter (Seccomp: 2 in "
			 "/proc/self/status), which may: a container runtime's, or systemd's "
			 "RestrictNamespaces= in the unit", step, strerror(err));
	else
		snprintf(buf, len, "cannot make a user namespace (%s: %s): no sysctl forbids it; "
			 "a seccomp filter (a container runtime's) or a security module may", step,
			 strerror(err));
	return buf;
}

const char *nsrefuse_tun(int err, char *buf, size_t len)
{
	if (err == EACCES || err == EPERM)
		snprintf(buf, len, "cannot open /dev/net/tun: %s: a VM's tap needs it readable and "
			 "writable by this user (mode 0666, as Debian's udev rules and most "
			 "distributions make it: chmod 0666 /dev/net/tun); --container needs no tap",
			 strerror(err));
	else if (err == ENOENT || err == ENODEV || err == ENXIO)
		snprintf(buf, len, "cannot open /dev/net/tun: %s: load the tun module (modprobe "
			 "tun) and make the device (mknod /dev/net/tun c 10 200, mode 0666); under "
			 "systemd, PrivateDevices= hides it; --container needs no tap", strerror(err));
	else
		snprintf(buf, len, "cannot open /dev/net/tun: %s", strerror(err));
	return buf;
}
