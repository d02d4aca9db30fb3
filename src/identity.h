/* identity.h: this daemon's key pair and the fingerprint peers pin.
 *
 * The fingerprint is "sha256:" and the hex SHA-256 of the DER-encoded
 * SubjectPublicKeyInfo: it names the key, not the certificate, so a
 * re-issued certificate for the same key keeps its fingerprint. */
#ifndef OMNET_IDENTITY_H
#define OMNET_IDENTITY_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define FINGERPRINT_LEN (7 + 64) /* "sha256:" + hex */

struct identity {
	EVP_PKEY *key;
	X509 *cert;
	char fingerprint[FINGERPRINT_LEN + 1];
};

/* identity_load() - read STATE_DIR/identity.pem, or create it (0600) on
 * first start; 0, or -1 with err filled */
int identity_load(struct identity *id, const char *state_dir, char *err, size_t errlen);
void identity_free(struct identity *id);
int identity_fingerprint(X509 *cert, char out[FINGERPRINT_LEN + 1]);
int fingerprint_valid(const char *fp);

#endif
