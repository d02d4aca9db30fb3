/* netns.h: working inside a VM's capture namespace.
 *
 * omnetd is single-threaded, so it simply setns()es the whole process into
 * the namespace, does its work (sockets created there stay there), and
 * comes back.  Every netns_enter() is paired with netns_leave(). */
#ifndef OMNET_NETNS_H
#define OMNET_NETNS_H

#include <stddef.h>
#include <sys/types.h>

/* netns_init() - remember our own namespace; call once at start */
int netns_init(void);
/* netns_open() - a name (in /run/netns) or a path; an fd, or -1 */
int netns_open(const char *name, char *err, size_t errlen);
/* A namespace as the kernel knows it: the device and inode of its nsfs
 * file.  Names are not identities: "vm1", "/run/netns/vm1" and a bind
 * mount of it are one namespace. */
struct netns_id {
	dev_t dev;
	ino_t ino;
};
/* netns_identity() - the identity of the namespace a name or path opens;
 * 0, or -1 with err.  A namespace this process may not open (another
 * user's /proc/PID/ns/net; the provider runs unprivileged) has identity
 * zero: unknown here, the capture helper checks it. */
int netns_identity(const char *name, struct netns_id *id, char *err, size_t errlen);
int netns_enter(int fd);
void netns_leave(void);
/* netns_join_owner() - for a provider without privileges (DESIGN.md
 * 11.48): join the user namespace that owns the network namespace name
 * opens (its owner may, and then holds every capability over it), and
 * make a scratch network namespace there to come back to.  A process does
 * this once and stays there: the host's namespaces are out of its reach
 * from then on.  The namespace's descriptor (opening it again by its name
 * may be refused once capabilities are dropped: another process's
 * /proc/PID/ns/net), or -1 with why. */
int netns_join_owner(const char *name, char *err, size_t errlen);
/* netns_sysctl() - write a /proc/sys value in the current namespace */
int netns_sysctl(const char *path, const char *value);

#endif
