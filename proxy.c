/*
 * proxy.c: PROXY protocol v1 (text) and v2 (binary) header parsing
 * (spec 9).  Pure: bytes in, a result or a reason out.  Trusts nothing:
 * every length is checked against the bytes present and our bounds.
 * Accepted: v1 TCP4, TCP6 and UNKNOWN; v2 PROXY over TCP4 or TCP6 and
 * LOCAL or UNSPEC, which keep the real peer.  Of the TLVs after the v2
 * addresses only PP2_TYPE_SSL is read (spec 9: TLS ended at the
 * proxy); the others are skipped, and a TLV area that does not add up
 * is ignored as a whole.  Anything else is malformed: the caller closes without a
 * reply.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"
#include "util.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static bool
loopback4(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static bool
loopback6(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		return a->s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(a);
}

/*
 * spec 9: an address in its usual form; an IPv4 peer reached over an IPv6
 * socket (::ffff:a.b.c.d) prints as a.b.c.d.
 */
void
proxy_ntop6(const struct in6_addr *a, char *buf, size_t size)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)size);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)size);
}

/* Checks a decimal port 0..65535 without leading zeros. */
static bool
valid_port(const char *s)
{
	uint32_t n;

	if (s[0] == '0' && s[1] != '\0')
		return false;
	return parse_u32(s, &n) == NUM_OK && n <= 65535;
}

static int
parse_v1(const unsigned char *buf, size_t len, struct proxy_result *out,
    const char **errstr)
{
	char line[PROXY_V1_MAX + 1], *f[6], *p;
	const unsigned char *lf;
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;
	int nf = 0;

	if ((lf = memchr(buf, '\n', len)) == NULL) {
		if (len >= PROXY_V1_MAX) {
			*errstr = "PROXY v1 line too long";
			return -1;
		}
		return 0;
	}
	n = (size_t)(lf - buf) + 1;
	if (n > PROXY_V1_MAX || n < 2 || buf[n - 2] != '\r') {
		*errstr = "malformed PROXY v1 line";
		return -1;
	}
	memcpy(line, buf, n - 2);
	line[n - 2] = '\0';
	if (has_ctl(line, n - 2)) {
		*errstr = "malformed PROXY v1 line";
		return -1;
	}
	for (p = line; nf < 6; ) {
		f[nf++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			break;
		*p++ = '\0';
	}
	memset(out, 0, sizeof(*out));
	if (nf >= 2 && !strcmp(f[1], "UNKNOWN")) {
		out->local = true;
		return (int)n;
	}
	if (p != NULL || nf != 6 || strcmp(f[0], "PROXY") != 0 ||
	    !valid_port(f[4]) || !valid_port(f[5])) {
		*errstr = "malformed PROXY v1 line";
		return -1;
	}
	if (!strcmp(f[1], "TCP4") && inet_pton(AF_INET, f[2], &a4) == 1 &&
	    inet_pton(AF_INET, f[3], &a4) == 1) {
		inet_pton(AF_INET, f[2], &a4);
		out->loopback = loopback4(&a4);
		inet_ntop(AF_INET, &a4, out->addr, sizeof(out->addr));
		return (int)n;
	}
	if (!strcmp(f[1], "TCP6") && inet_pton(AF_INET6, f[2], &a6) == 1 &&
	    inet_pton(AF_INET6, f[3], &a6) == 1) {
		inet_pton(AF_INET6, f[2], &a6);
		out->loopback = loopback6(&a6);
		proxy_ntop6(&a6, out->addr, sizeof(out->addr));
		return (int)n;
	}
	*errstr = "malformed PROXY v1 addresses";
	return -1;
}

#define PP2_TYPE_SSL		0x20
#define PP2_CLIENT_SSL		0x01
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SUBTYPE_SSL_CIPHER	0x23

/* Copies a TLV value that is all printable ASCII and fits; else "". */
static void
tlv_string(char *dst, size_t size, const unsigned char *v, size_t len)
{
	size_t i;

	dst[0] = '\0';
	if (len == 0 || len >= size)
		return;
	for (i = 0; i < len; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/*
 * Walks the TLVs in p[0..len): type, 16-bit length, value.  Fills the ssl
 * fields of out only when every TLV (and every sub-TLV of PP2_TYPE_SSL)
 * lies inside its area.
 */
static void
parse_tlvs(const unsigned char *p, size_t len, struct proxy_result *out)
{
	struct proxy_result r;
	const unsigned char *v, *sv;
	size_t off = 0, vlen, soff, slen;

	memset(&r, 0, sizeof(r));
	while (off < len) {
		if (len - off < 3)
			return;
		vlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (vlen > len - off - 3)
			return;
		v = p + off + 3;
		if (p[off] == PP2_TYPE_SSL) {
			/* client flags (1), verify (4), then sub-TLVs */
			if (vlen < 5)
				return;
			r.ssl = (v[0] & PP2_CLIENT_SSL) != 0;
			for (soff = 5; soff < vlen; soff += 3 + slen) {
				if (vlen - soff < 3)
					return;
				slen = (size_t)v[soff + 1] << 8 | v[soff + 2];
				if (slen > vlen - soff - 3)
					return;
				sv = v + soff + 3;
				if (v[soff] == PP2_SUBTYPE_SSL_VERSION)
					tlv_string(r.ssl_version,
					    sizeof(r.ssl_version), sv, slen);
				else if (v[soff] == PP2_SUBTYPE_SSL_CIPHER)
					tlv_string(r.ssl_cipher,
					    sizeof(r.ssl_cipher), sv, slen);
			}
		}
		off += 3 + vlen;
	}
	out->ssl = r.ssl;
	if (r.ssl) {
		memcpy(out->ssl_version, r.ssl_version,
		    sizeof(out->ssl_version));
		memcpy(out->ssl_cipher, r.ssl_cipher, sizeof(out->ssl_cipher));
	}
}

static int
parse_v2(const unsigned char *buf, size_t len, struct proxy_result *out,
    const char **errstr)
{
	struct in6_addr a6;
	struct in_addr a4;
	size_t body, total;

	if (len < 16)
		return 0;
	if ((buf[12] & 0xf0) != 0x20) {
		*errstr = "unsupported PROXY version";
		return -1;
	}
	body = (size_t)buf[14] << 8 | buf[15];
	total = 16 + body;
	if (total > PROXY_V2_MAX) {
		*errstr = "PROXY v2 header too long";
		return -1;
	}
	if (len < total)
		return 0;
	memset(out, 0, sizeof(*out));
	switch (buf[12] & 0x0f) {
	case 0x0:	/* LOCAL: health checks and the like */
		out->local = true;
		return (int)total;
	case 0x1:	/* PROXY */
		break;
	default:
		*errstr = "unknown PROXY v2 command";
		return -1;
	}
	/* spec 9: POP3 runs over TCP; UDP and AF_UNIX are refused. */
	switch (buf[13]) {
	case 0x11:	/* TCP over IPv4 */
		if (body < 12)
			break;
		memcpy(&a4, buf + 16, 4);
		out->loopback = loopback4(&a4);
		inet_ntop(AF_INET, &a4, out->addr, sizeof(out->addr));
		parse_tlvs(buf + 16 + 12, body - 12, out);
		return (int)total;
	case 0x21:	/* TCP over IPv6 */
		if (body < 36)
			break;
		memcpy(&a6, buf + 16, 16);
		out->loopback = loopback6(&a6);
		proxy_ntop6(&a6, out->addr, sizeof(out->addr));
		parse_tlvs(buf + 16 + 36, body - 36, out);
		return (int)total;
	case 0x00:	/* UNSPEC */
		out->local = true;
		return (int)total;
	default:
		*errstr = "unsupported PROXY v2 address family";
		return -1;
	}
	*errstr = "PROXY v2 address block too short";
	return -1;
}

int
proxy_parse(const unsigned char *buf, size_t len, struct proxy_result *out,
    const char **errstr)
{
	size_t n = len < sizeof(v2sig) ? len : sizeof(v2sig);

	if (len == 0)
		return 0;
	if (memcmp(buf, v2sig, n) == 0)
		return len < sizeof(v2sig) ? 0 : parse_v2(buf, len, out,
		    errstr);
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) == 0)
		return len < 6 ? 0 : parse_v1(buf, len, out, errstr);
	*errstr = "no PROXY header";
	return -1;
}
