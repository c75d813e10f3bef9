/* One publisher packet to every subscriber stream in its steady state, in one call.
 *
 * media/lanes.py keeps one `lane` per such stream (what its header becomes,
 * where it is sent) and calls `fanout_push` once per packet: per lane, the
 * header is written from the lane's template, the payload copied after it
 * (its VP8 picture id renumbered when the lane's stream goes on from another),
 * the whole protected with SRTP in place (libsrtp's `srtp_protect`, reached
 * through pylibsrtp's binding) and sent with one `sendto`. What a lane sent
 * is counted in the lane, for its slot's sender reports and for the next
 * switch. Everything else (starting a stream, switching, keyframe waits,
 * retransmissions, failures) stays in Python, in media/tracks.py.
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "fanout.h"

static void put16(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)value;
}

static void put32(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)(value >> 24);
    at[1] = (uint8_t)(value >> 16);
    at[2] = (uint8_t)(value >> 8);
    at[3] = (uint8_t)value;
}

/* The lane's header for this packet, written at `out`: its length. */
static int write_header(const struct lane *lane, uint8_t *out, int marker, uint32_t abs_time,
                        int level, uint16_t seq, uint32_t stamp)
{
    const struct form *form = &lane->plain;
    if (level >= 0 && lane->with_level.length)
        form = &lane->with_level;
    else if (lane->with_abs.length)
        form = &lane->with_abs;
    memcpy(out, form->bytes, (size_t)form->length);
    out[1] = (uint8_t)(lane->payload_type | (marker ? 0x80 : 0));
    put16(out + 2, seq);
    put32(out + 4, stamp);
    if (form == &lane->with_level)
        out[form->value_at] = (uint8_t)level;
    else if (form == &lane->with_abs) {
        out[form->value_at] = (uint8_t)(abs_time >> 16);
        out[form->value_at + 1] = (uint8_t)(abs_time >> 8);
        out[form->value_at + 2] = (uint8_t)abs_time;
    }
    return form->length;
}

/* Send one packet on one lane: SENT, BEHIND, DOWN or REFUSED (as media/wire.py). */
static int send_one(struct lane *lane, const struct packet *packet, uint8_t *buffer, int most,
                    protect_fn protect)
{
    const struct port *port = lane->port;
    if (!port->up)
        return DOWN;
    uint16_t seq = (uint16_t)(packet->seq + lane->seq_offset);
    uint32_t stamp = packet->timestamp + lane->stamp_offset;
    int head = write_header(lane, buffer, packet->marker, packet->abs_time, packet->level, seq,
                            stamp);
    if (head + packet->size > most)
        return REFUSED;
    memcpy(buffer + head, packet->payload, (size_t)packet->size);
    int picture = -1;
    if (packet->picture_at >= 0 && packet->picture_at + 2 <= packet->size) {
        const uint8_t *at = packet->payload + packet->picture_at;
        picture = ((((at[0] & 0x7F) << 8) | at[1]) + lane->picture_offset) & 0x7FFF;
        if (lane->picture_offset)
            put16(buffer + head + packet->picture_at, 0x8000u | (uint32_t)picture);
    }
    int length = head + packet->size;
    if (protect(port->srtp, buffer, &length) != 0)
        return REFUSED;
    if (sendto(port->fd, buffer, (size_t)length, 0, (const struct sockaddr *)&port->address,
               port->address_length) < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? BEHIND : DOWN;
    lane->packets += 1;
    lane->octets += (uint64_t)packet->size;
    if (!packet->late || (uint16_t)(seq - lane->top_seq) < 0x8000) {
        lane->top_seq = seq;
        lane->top_stamp = stamp;
        lane->top_picture = picture;
        lane->sent_at = packet->now;
    }
    return SENT;
}

int fanout_push(struct lane **lanes, int count, const struct packet *packet, uint8_t *buffer,
                int most, protect_fn protect)
{
    int sent = 0;
    for (int i = 0; i < count; i++) {
        struct lane *lane = lanes[i];
        if (packet->late && (uint16_t)(packet->seq - lane->since) >= 0x8000) {
            lane->status = SKIPPED; /* from before the switch to this stream */
            continue;
        }
        lane->status = send_one(lane, packet, buffer, most, protect);
        sent += lane->status == SENT;
    }
    return sent;
}
