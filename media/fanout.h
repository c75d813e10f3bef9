/* What media/fanout.c and media/lanes.py share (cffi reads this file as its cdef: plain
 * declarations only, no guards or includes). */

#define SENT 0
#define BEHIND 1
#define DOWN 2
#define REFUSED 3
#define SKIPPED 4

typedef int (*protect_fn)(void *session, void *packet, int *length);

/* Where a subscriber connection's packets go: kept by its media.wire.Wire. */
struct port {
    void *srtp;                 /* libsrtp's srtp_t of the connection's sending session */
    int fd;                     /* the selected ICE pair's socket */
    int up;                     /* DTLS connected and a pair selected */
    unsigned int address_length;
    uint8_t address[128];       /* the remote address, a struct sockaddr_in or _in6 */
};

/* One form of a stream's header: fixed header and extension block, a value's place in it. */
struct form {
    int length;                 /* 0: the stream has no such form */
    int value_at;
    uint8_t bytes[64];
};

/* One subscriber stream in its steady state. */
struct lane {
    struct port *port;
    uint8_t payload_type;
    struct form plain, with_abs, with_level;
    uint16_t seq_offset;
    uint32_t stamp_offset;
    uint16_t picture_offset;
    uint16_t since;             /* the feed's sequence number this stream's mapping starts at */
    /* what was sent */
    int status;
    uint64_t packets, octets;
    uint16_t top_seq;
    uint32_t top_stamp;
    int top_picture;            /* -1: the highest packet had no picture id */
    double sent_at;
};

/* A publisher packet as the feed has it. */
struct packet {
    const uint8_t *payload;
    int size;
    uint16_t seq;
    uint32_t timestamp;
    int marker, late, level, picture_at;
    uint32_t abs_time;
    double now;
};

int fanout_push(struct lane **lanes, int count, const struct packet *packet, uint8_t *buffer,
                int most, protect_fn protect);
