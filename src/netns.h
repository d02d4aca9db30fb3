/* netns.h: working inside a VM's capture namespace.
 *
 * omnetd is single-threaded, so it simply setns()es the whole process into
 * the namespace, does its work (sockets created there stay there), and
 * comes back.  Every netns_enter() is paired with netns_leave(). */
#ifndef OMNET_NETNS_H
#define OMNET_NETNS_H

#include <stddef.h>

/* netns_init() - remember our own namespace; call once at start */
int netns_init(void);
/* netns_open() - a name (in /run/netns) or a path; an fd, or -1 */
int netns_open(const char *name, char *err, size_t errlen);
int netns_enter(int fd);
void netns_leave(void);
/* netns_sysctl() - write a /proc/sys value in the current namespace */
int netns_sysctl(const char *path, const char *value);

#endif
