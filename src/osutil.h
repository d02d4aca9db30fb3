/* osutil.h: what the operating system gives the glue: the clock, random
 * bytes, files replaced atomically, a socket option.  The pure cores in
 * src/core/ never call these; they are handed the time as an argument. */
#ifndef OMNET_OSUTIL_H
#define OMNET_OSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/socket.h>

uint64_t clock_now_us(void);
uint64_t clock_now_ms(void);
/* timeval_from_ms(), timeval_from_us() - a relative delay for libevent
 * timers and socket timeouts */
struct timeval timeval_from_ms(uint64_t ms);
struct timeval timeval_from_us(uint64_t us);

/* log_stamp_local() - "HH:MM:SS.mmm ", local time, for log lines that
 * no journal stamps (log_set_stamp()) */
void log_stamp_local(char *buf, size_t len);

/* random_bytes() - fill buf from the kernel's generator; never fails
 * (getrandom blocks only before the pool is initialised at boot) */
void random_bytes(void *buf, size_t len);
uint64_t random_u64(void);

/* file_write_atomic() - replace path with what write_cb writes into a new
 * file beside it (mode 0600), synced before the rename, so a reader sees
 * the old file or the new, never half of one.  write_cb returns 0 or -1
 * with errno set.  On failure err says which step, and path is untouched. */
typedef int (*file_writer)(FILE *f, void *arg);
int file_write_atomic(const char *path, file_writer write_cb, void *arg, char *err,
		      size_t errlen);

/* sock_rst_on_close() - SO_LINGER 0: close() sends the peer a RST */
void sock_rst_on_close(int fd);

/* fd_wait_readable() - fd readable within timeout_ms, however many signals
 * interrupt the wait: 0, or -1 on timeout or error */
int fd_wait_readable(int fd, int timeout_ms);

/* exec_self() - omnetd again, afresh (/proc/self/exe) with argv, holding
 * nothing of this process's: keep (if not -1) moved to descriptor at, and
 * every descriptor above at closed.  Returns only on failure, errno set. */
int exec_self(int keep, int at, char *const argv[]);

/* send_with_fds() - one datagram of len bytes with nfds (at most
 * SEND_FDS_MAX) descriptors in SCM_RIGHTS, MSG_NOSIGNAL; sendmsg()'s result */
#define SEND_FDS_MAX 16
ssize_t send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* msg_take_fds() - the descriptors a received message carries (SCM_RIGHTS),
 * up to room of them into fds, *n how many; those beyond room are closed.
 * -1 if there were more than room, or the kernel cut them short
 * (MSG_CTRUNC); the n taken are the caller's either way. */
int msg_take_fds(struct msghdr *mh, int *fds, size_t room, size_t *n);

/* os_has_ipv6() - whether this kernel has IPv6 at all (not booted with
 * ipv6.disable=1, which leaves no /proc/sys/net/ipv6 in any namespace) */
int os_has_ipv6(void);

/* mkdir_p() - create a directory and its parents (0755); the last one with
 * mode; 0 if it exists already, or -1 with errno */
int mkdir_p(const char *path, mode_t mode);

/* fds_close_above(), fds_cloexec_above() - every descriptor above fd
 * closed, or marked close-on-exec; by listing /proc/self/fd where the
 * kernel (before 5.9, or 5.11 for close-on-exec) or a seccomp filter
 * refuses close_range().  0, or -1 with errno. */
int fds_close_above(int fd);
int fds_cloexec_above(int fd);

/* user_runtime_dir() - an ordinary user's runtime directory:
 * $XDG_RUNTIME_DIR, else /run/user/UID if it is this user's directory (as
 * under "sudo -u", which does not set the variable); NULL if neither */
const char *user_runtime_dir(char *buf, size_t len);

#endif
