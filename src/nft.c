/* nft.c: libnftables, one context per call.
 *
 * A context keeps a netlink socket bound to the namespace it was created
 * in; a fresh one after each setns() talks to the right namespace. */
#include <stdio.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "nft.h"

int nft_run(const char *rules, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *msg;
	int ret;

	if (!ctx) {
		snprintf(err, errlen, "nftables: cannot create a context");
		return -1;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	ret = nft_run_cmd_from_buffer(ctx, rules);
	msg = nft_ctx_get_error_buffer(ctx);
	if (ret != 0) {
		size_t n;

		snprintf(err, errlen, "nftables: %s", msg && *msg ? msg : "failed");
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
	}
	nft_ctx_free(ctx);
	return ret == 0 ? 0 : -1;
}
