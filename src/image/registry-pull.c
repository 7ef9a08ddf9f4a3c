/* Pull: tag → manifest (index → this platform) → config → every missing layer at once.
 *
 * All layer downloads run in one thread on a curl multi handle, which only moves bytes: each
 * layer's bytes go into a pipe read by that layer's own import thread. That thread writes them to
 * the blob store (hashed on the way, so the compressed digest is checked and push/save can reuse
 * the exact blob) and gunzips, untars and checks the diff_id in the same pass: the hashing, the
 * blob's fsync and the unpacking of different layers run on different cores. A full pipe pauses
 * only its own transfer (CURL_WRITEFUNC_PAUSE) and the pipe's fd joins curl_multi_poll until it
 * drains, so a slow unpack never stalls the other downloads. A transient failure (reset, 5xx)
 * resumes the layer from the byte it reached (Range; a server answering 200 has the prefix
 * skipped). An import only sees the end of its stream once the whole blob arrived and its digest is
 * verified; any failure ends every stream with an error instead, so the import drops what it
 * unpacked, and no image is committed. */
#include "image/registry-internal.h"

#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <time.h>

#define MAX_MANIFEST   (4u << 20)
#define MAX_CONFIG     (16u << 20)
#define MAX_PARALLEL   16
#define MAX_RETRIES    3
#define PIPE_SIZE      (1 << 20)
#define PROGRESS_BYTES (512u << 10)
#define PROGRESS_NS    100000000LL

enum layer_state {
        LAYER_SKIP,     /* already exists */
        LAYER_QUEUED,   /* waiting for a transfer slot */
        LAYER_ACTIVE,   /* transfer running */
        LAYER_FLUSHING, /* transfer done, pipe still to be fed */
        LAYER_DONE,     /* blob committed (or local), stream ended */
};

struct pull;

struct layer {
        struct pull *p;
        const struct image_descriptor *desc;
        const char *diff_id;
        const char *chain_id;
        char id[13];
        enum layer_state state;
        char *url;
        bool foreign;
        CURL *h;
        struct curl_slist *hdrs;
        struct berth_blob_writer *w;
        int rfd, wfd;
        char *spill;
        size_t spill_off, spill_len, spill_cap;
        bool paused;
        bool to_pipe; /* the import still reads */
        bool committed;
        int64_t blob_ns; /* in berth_blob_write and commit (sha256, write, fsync) */
        uint64_t received;
        uint64_t skip;
        long status;
        char errbody[1024];
        size_t errlen;
        int retries;
        struct berth_error *err; /* set in the write callback */
        uint64_t last_bytes;
        int64_t last_ns;
        /* import thread */
        pthread_t thread;
        bool thread_started;
        atomic_int download_ok; /* 0 pending, 1 verified, -1 failed */
        atomic_bool import_done;
        int import_rc;
        struct berth_error *import_err;
        uint64_t extracted;
        uint64_t last_xbytes;
        int64_t last_xns;
        int64_t import_cpu_ns;
};

struct pull {
        struct reg_client *c;
        struct berth_images *imgs;
        CURLM *multi;
        struct layer *layers;
        size_t n;
        bool timing;
        int64_t pipe_ns;
};

static int64_t now_ns(clockid_t clk)
{
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool progress_due(uint64_t *last_bytes, int64_t *last_ns, uint64_t bytes, uint64_t total)
{
        int64_t t = now_ns(CLOCK_MONOTONIC);
        if (bytes != total && bytes - *last_bytes < PROGRESS_BYTES && t - *last_ns < PROGRESS_NS)
                return false;
        *last_bytes = bytes;
        *last_ns = t;
        return true;
}

/* ---------------------------------------------------------------- import threads */

/* the whole blob went through the pipe: verify its digest and store it */
static int layer_commit(struct layer *l, struct berth_error **err)
{
        l->committed = true;
        reg_progress(l->p->c, l->id, "Verifying Checksum", 0, 0);
        int64_t t0 = l->p->timing ? now_ns(CLOCK_MONOTONIC) : 0;
        int r = berth_blob_commit(TAKE_PTR(l->w), l->desc->digest, NULL, err);
        if (l->p->timing)
                l->blob_ns += now_ns(CLOCK_MONOTONIC) - t0;
        if (r < 0)
                return berth_error_wrap(err, "layer %s (%s)", l->id, l->desc->digest);
        reg_progress(l->p->c, l->id, "Download complete", 0, 0);
        return 0;
}

static ssize_t layer_read(void *ud, void *buf, size_t len, struct berth_error **err)
{
        struct layer *l = ud;
        for (;;) {
                ssize_t n = read(l->rfd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, errno, "layer %s: read stream", l->id);
                if (n > 0) {
                        int64_t t0 = l->p->timing ? now_ns(CLOCK_MONOTONIC) : 0;
                        if (berth_blob_write(l->w, buf, (size_t)n, err) < 0)
                                return berth_error_wrap(err, "layer %s", l->id);
                        if (l->p->timing)
                                l->blob_ns += now_ns(CLOCK_MONOTONIC) - t0;
                        l->extracted += (uint64_t)n;
                        uint64_t total = (uint64_t)l->desc->size;
                        if (progress_due(&l->last_xbytes, &l->last_xns, l->extracted, total))
                                reg_progress(l->p->c, l->id, "Extracting", l->extracted, total);
                        return n;
                }
                /* the end of the stream is only an end once the blob is verified */
                if (atomic_load(&l->download_ok) != 1)
                        return berth_error_setx(err, ECANCELED, "layer %s: download failed", l->id);
                return layer_commit(l, err) < 0 ? -EBADMSG : 0;
        }
}

static void *import_thread(void *ud)
{
        struct layer *l = ud;
        int64_t t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        l->import_rc = image_layer_import_cb(l->p->imgs, l->chain_id, l->diff_id, layer_read, l,
                                             NULL, &l->import_err);
        if (l->import_rc < 0 && !l->committed && l->w) {
                /* a broken stream is most likely a corrupt blob: take the rest of it (into the
                 * store only) so that the error names the cause */
                _cleanup_free_ char *buf = xmalloc(1 << 16);
                ssize_t n;
                while ((n = read(l->rfd, buf, 1 << 16)) > 0 || (n < 0 && errno == EINTR))
                        if (n > 0 && berth_blob_write(l->w, buf, (size_t)n, NULL) < 0)
                                break;
                struct berth_error *e = NULL;
                if (n == 0 && atomic_load(&l->download_ok) == 1 && layer_commit(l, &e) < 0 &&
                    berth_error_code(e) == EBADMSG) {
                        berth_error_free(l->import_err);
                        l->import_err = TAKE_PTR(e);
                }
                berth_error_free(e);
        }
        l->import_cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
        if (l->import_rc == 0)
                reg_progress(l->p->c, l->id, "Pull complete", 0, 0);
        atomic_store(&l->import_done, true);
        curl_multi_wakeup(l->p->multi);
        return NULL;
}

/* ---------------------------------------------------------------- transfers */

static void spill_push(struct layer *l, const char *data, size_t len)
{
        if (l->spill_off > 0 && l->spill_len > 0)
                memmove(l->spill, l->spill + l->spill_off, l->spill_len);
        l->spill_off = 0;
        if (l->spill_len + len > l->spill_cap) {
                l->spill_cap = l->spill_len + len;
                l->spill = xrealloc(l->spill, l->spill_cap);
        }
        memcpy(l->spill + l->spill_len, data, len);
        l->spill_len += len;
}

/* feed the import's pipe without blocking; true when nothing is left over */
static bool pipe_feed(struct layer *l, const char *data, size_t len, bool from_spill)
{
        int64_t t0 = l->p->timing ? now_ns(CLOCK_MONOTONIC) : 0;
        while (len > 0 && l->to_pipe) {
                ssize_t n = write(l->wfd, data, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        /* EAGAIN: full; anything else: the reader is gone (it reports why) */
                        if (errno != EAGAIN)
                                l->to_pipe = false;
                        break;
                }
                data += n;
                len -= (size_t)n;
                if (from_spill) {
                        l->spill_off += (size_t)n;
                        l->spill_len -= (size_t)n;
                }
        }
        if (l->p->timing)
                l->p->pipe_ns += now_ns(CLOCK_MONOTONIC) - t0;
        if (!l->to_pipe) {
                l->spill_len = l->spill_off = 0;
                return true;
        }
        if (len > 0 && !from_spill)
                spill_push(l, data, len);
        return len == 0;
}

static size_t on_layer_data(char *buf, size_t size, size_t nmemb, void *ud)
{
        struct layer *l = ud;
        size_t len = size * nmemb;
        if (l->status == 0) {
                curl_easy_getinfo(l->h, CURLINFO_RESPONSE_CODE, &l->status);
                /* a resumed transfer answered with the whole blob: skip what we have */
                if (l->status == 200)
                        l->skip = l->received;
        }
        if (l->status != 200 && l->status != 206) {
                size_t k = len < sizeof(l->errbody) - 1 - l->errlen
                               ? len
                               : sizeof(l->errbody) - 1 - l->errlen;
                memcpy(l->errbody + l->errlen, buf, k);
                l->errlen += k;
                return len;
        }
        if (l->spill_len > 0) {
                l->paused = true;
                return CURL_WRITEFUNC_PAUSE;
        }
        const char *data = buf;
        size_t n = len;
        if (l->skip > 0) {
                size_t k = l->skip < n ? (size_t)l->skip : n;
                data += k;
                n -= k;
                l->skip -= k;
        }
        if (n == 0)
                return len;
        uint64_t total = (uint64_t)l->desc->size;
        if (l->received + n > total) {
                berth_error_setx(&l->err, EBADMSG,
                                 "layer %s (%s): the registry sent more than the %" PRIu64
                                 " bytes of the manifest",
                                 l->id, l->desc->digest, total);
                return 0;
        }
        l->received += n;
        pipe_feed(l, data, n, false);
        if (progress_due(&l->last_bytes, &l->last_ns, l->received, total))
                reg_progress(l->p->c, l->id, "Downloading", l->received, total);
        return len;
}

static int transfer_start(struct layer *l, struct berth_error **err)
{
        struct pull *p = l->p;
        if (!l->h) {
                l->h = curl_easy_init();
                if (!l->h)
                        return berth_error_setx(err, ENOMEM, "curl: cannot create a handle");
        } else {
                curl_easy_reset(l->h);
        }
        curl_slist_free_all(l->hdrs);
        l->hdrs = NULL;
        if (l->received > 0) {
                char range[64];
                snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", l->received);
                l->hdrs = curl_slist_append(l->hdrs, range);
        }
        if (l->foreign) {
                /* foreign layers come from their own URLs, without the registry's credentials */
                struct reg_client anon = *p->c;
                anon.auth = NULL;
                reg_setup_download(&anon, l->h, l->url, &l->hdrs);
        } else {
                reg_setup_download(p->c, l->h, l->url, &l->hdrs);
        }
        curl_easy_setopt(l->h, CURLOPT_WRITEFUNCTION, on_layer_data);
        curl_easy_setopt(l->h, CURLOPT_WRITEDATA, l);
        curl_easy_setopt(l->h, CURLOPT_PRIVATE, l);
        l->status = 0;
        l->errlen = 0;
        l->skip = 0;
        if (curl_multi_add_handle(p->multi, l->h) != CURLM_OK)
                return berth_error_setx(err, EIO, "curl: cannot add a transfer");
        l->state = LAYER_ACTIVE;
        return 0;
}

static int layer_begin(struct layer *l, struct berth_error **err)
{
        struct pull *p = l->p;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return berth_error_set(err, errno, "pipe");
        l->rfd = fds[0];
        l->wfd = fds[1];
        /* a bigger pipe: fewer wakeups and pauses; failure (pipe-max-size) is harmless */
        (void)fcntl(l->wfd, F_SETPIPE_SZ, PIPE_SIZE);
        if (fcntl(l->wfd, F_SETFL, O_NONBLOCK) < 0)
                return berth_error_set(err, errno, "pipe");
        l->to_pipe = true;
        if (berth_blob_begin(berth_images_blobs(p->imgs), &l->w, err) < 0)
                return berth_error_wrap(err, "layer %s", l->id);
        if (pthread_create(&l->thread, NULL, import_thread, l) != 0)
                return berth_error_setx(err, EAGAIN, "layer %s: cannot start a thread", l->id);
        l->thread_started = true;
        return transfer_start(l, err);
}

/* the whole blob arrived and the pipe took it all: end the stream (the import thread verifies
 * the digest when it reads the end) */
static void layer_finish(struct layer *l)
{
        atomic_store(&l->download_ok, 1);
        close(l->wfd);
        l->wfd = -1;
        l->state = LAYER_DONE;
}

static bool transient(CURLcode rc, long status)
{
        if (rc == CURLE_OK)
                return status >= 500 || status == 429 || status == 408;
        switch (rc) {
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

static int transfer_done(struct layer *l, CURLcode rc, struct berth_error **err)
{
        struct pull *p = l->p;
        long status = 0;
        curl_easy_getinfo(l->h, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(p->multi, l->h);
        if (l->err) {
                *err = TAKE_PTR(l->err);
                return -berth_error_code(*err);
        }
        if (rc == CURLE_OK && (status == 200 || status == 206)) {
                if (l->received != (uint64_t)l->desc->size)
                        return berth_error_setx(err, EBADMSG,
                                                "layer %s (%s): truncated blob: got %" PRIu64
                                                " of %" PRId64 " bytes",
                                                l->id, l->desc->digest, l->received, l->desc->size);
                l->state = LAYER_FLUSHING;
                return 0;
        }
        if (rc == CURLE_OK && status == 401 && !l->foreign && l->retries < MAX_RETRIES) {
                /* the token expired during a long pull: a request through the client answers
                 * the challenge again, then the layer resumes with the new token */
                _cleanup_free_ char *path =
                    xasprintf("/v2/%s/blobs/%s", p->c->ref.path, l->desc->digest);
                struct reg_response hr = {0};
                int a = reg_request(p->c, "HEAD", path, NULL, NULL, 0, -1, 0, &hr, err);
                long hs = hr.status;
                reg_response_release(&hr);
                if (a < 0)
                        return berth_error_wrap(err, "layer %s", l->id);
                if (hs == 200) {
                        l->retries++;
                        return transfer_start(l, err);
                }
        }
        if (transient(rc, status) && l->retries < MAX_RETRIES) {
                l->retries++;
                reg_progress(p->c, l->id, "Retrying", l->received, (uint64_t)l->desc->size);
                return transfer_start(l, err);
        }
        if (rc != CURLE_OK)
                return berth_error_setx(err, EIO, "layer %s (%s): %s", l->id, l->desc->digest,
                                        curl_easy_strerror(rc));
        struct reg_response r = {.status = status, .body = l->errbody, .len = l->errlen};
        l->errbody[l->errlen] = 0;
        _cleanup_free_ char *what = xasprintf("layer %s (%s)", l->id, l->desc->digest);
        return reg_status_error(err, &r, what);
}

/* the multi loop: returns when every layer is imported or at the first failure */
static int download_all(struct pull *p, struct berth_error **err)
{
        size_t active = 0;
        for (size_t i = 0; i < p->n; i++) {
                struct layer *l = &p->layers[i];
                if (l->state != LAYER_QUEUED)
                        continue;
                if (active >= MAX_PARALLEL) {
                        reg_progress(p->c, l->id, "Waiting", 0, 0);
                        continue;
                }
                if (layer_begin(l, err) < 0)
                        return -EIO;
                active++;
        }
        struct curl_waitfd *extra = xcalloc(p->n + 1, sizeof(*extra));
        int r = 0;
        for (;;) {
                int running = 0;
                if (curl_multi_perform(p->multi, &running) != CURLM_OK) {
                        r = berth_error_setx(err, EIO, "curl: multi transfer failed");
                        break;
                }
                CURLMsg *m;
                int left;
                while (r == 0 && (m = curl_multi_info_read(p->multi, &left))) {
                        if (m->msg != CURLMSG_DONE)
                                continue;
                        struct layer *l = NULL;
                        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&l);
                        r = transfer_done(l, m->data.result, err);
                }
                if (r < 0)
                        break;
                unsigned nfds = 0;
                bool all_done = true;
                active = 0;
                for (size_t i = 0; i < p->n && r == 0; i++) {
                        struct layer *l = &p->layers[i];
                        if (l->state == LAYER_ACTIVE || l->state == LAYER_FLUSHING) {
                                if (l->spill_len > 0 &&
                                    pipe_feed(l, l->spill + l->spill_off, l->spill_len, true) &&
                                    l->paused) {
                                        l->paused = false;
                                        curl_easy_pause(l->h, CURLPAUSE_CONT);
                                }
                                if (l->state == LAYER_FLUSHING && l->spill_len == 0)
                                        layer_finish(l);
                                else if (l->spill_len > 0)
                                        extra[nfds++] = (struct curl_waitfd){
                                            .fd = l->wfd, .events = CURL_WAIT_POLLOUT};
                        }
                        if (l->state == LAYER_ACTIVE || l->state == LAYER_FLUSHING)
                                active++;
                        if (l->thread_started && atomic_load(&l->import_done) && l->import_rc < 0) {
                                *err = TAKE_PTR(l->import_err);
                                r = berth_error_wrap(err, "layer %s", l->id);
                        }
                        if (l->state != LAYER_SKIP &&
                            (l->state != LAYER_DONE || !atomic_load(&l->import_done)))
                                all_done = false;
                }
                if (r < 0 || all_done)
                        break;
                for (size_t i = 0; i < p->n && active < MAX_PARALLEL; i++) {
                        struct layer *l = &p->layers[i];
                        if (l->state != LAYER_QUEUED)
                                continue;
                        if ((r = layer_begin(l, err)) < 0)
                                break;
                        active++;
                }
                if (r < 0)
                        break;
                if (curl_multi_poll(p->multi, extra, nfds, 1000, NULL) != CURLM_OK) {
                        r = berth_error_setx(err, EIO, "curl: poll failed");
                        break;
                }
        }
        free(extra);
        return r;
}

/* end every stream (with an error where the download did not verify) and wait for imports */
static void layers_release(struct pull *p)
{
        for (size_t i = 0; i < p->n; i++) {
                struct layer *l = &p->layers[i];
                int expected = 0;
                atomic_compare_exchange_strong(&l->download_ok, &expected, -1);
                if (l->h) {
                        curl_multi_remove_handle(p->multi, l->h);
                        curl_easy_cleanup(l->h);
                }
                if (l->wfd >= 0)
                        close(l->wfd);
                l->wfd = -1;
        }
        for (size_t i = 0; i < p->n; i++) {
                struct layer *l = &p->layers[i];
                if (l->thread_started)
                        pthread_join(l->thread, NULL);
                if (l->rfd >= 0)
                        close(l->rfd);
                berth_blob_abort(l->w);
                curl_slist_free_all(l->hdrs);
                free(l->spill);
                free(l->url);
                berth_error_free(l->err);
                berth_error_free(l->import_err);
        }
}

/* ---------------------------------------------------------------- manifest and config */

/* GET a manifest by tag or digest; the body's digest is checked against the reference or the
 * registry's Docker-Content-Digest */
static int get_manifest(struct reg_client *c, const char *reference, char **ret_body,
                        size_t *ret_len, char **ret_type, char **ret_digest,
                        struct berth_error **err)
{
        _cleanup_free_ char *url = xasprintf("/v2/%s/manifests/%s", c->ref.path, reference);
        const char *hdrs[] = {"Accept: " MEDIA_MANIFEST_ACCEPT, NULL};
        struct reg_response r = {0};
        _cleanup_free_ char *what = xasprintf("manifest `%s:%s`", c->repo, reference);
        if (reg_request(c, "GET", url, hdrs, NULL, 0, -1, MAX_MANIFEST, &r, err) < 0)
                return berth_error_wrap(err, "%s", what);
        if (r.status != 200) {
                int e = reg_status_error(err, &r, what);
                reg_response_release(&r);
                return e;
        }
        char *digest = reg_sha256_digest(r.body ? r.body : "", r.len);
        const char *want = !strncmp(reference, "sha256:", 7) ? reference : r.docker_digest;
        if (want && strcmp(want, digest)) {
                int e = berth_error_setx(err, EBADMSG, "%s: digest mismatch: expected %s, got %s",
                                         what, want, digest);
                free(digest);
                reg_response_release(&r);
                return e;
        }
        *ret_body = TAKE_PTR(r.body);
        *ret_len = r.len;
        *ret_type = TAKE_PTR(r.content_type);
        *ret_digest = digest;
        reg_response_release(&r);
        return 0;
}

static int get_config(struct reg_client *c, struct berth_images *imgs,
                      const struct image_descriptor *d, json_t **ret, struct berth_error **err)
{
        struct berth_store *st = berth_images_blobs(imgs);
        _cleanup_free_ char *what = xasprintf("config %s of `%s`", d->digest, c->repo);
        char *body = NULL;
        size_t len = 0;
        if (berth_store_has(st, d->digest)) {
                if (images_read_blob(imgs, d->digest, MAX_CONFIG, &body, &len, err) < 0)
                        return berth_error_wrap(err, "%s", what);
        } else {
                _cleanup_free_ char *url = xasprintf("/v2/%s/blobs/%s", c->ref.path, d->digest);
                struct reg_response r = {0};
                if (reg_request(c, "GET", url, NULL, NULL, 0, -1, MAX_CONFIG, &r, err) < 0)
                        return berth_error_wrap(err, "%s", what);
                if (r.status != 200) {
                        int e = reg_status_error(err, &r, what);
                        reg_response_release(&r);
                        return e;
                }
                if (berth_store_put(st, r.body ? r.body : "", r.len, d->digest, NULL, err) < 0) {
                        reg_response_release(&r);
                        return berth_error_wrap(err, "%s", what);
                }
                body = TAKE_PTR(r.body);
                len = r.len;
                reg_response_release(&r);
        }
        json_error_t je;
        json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
        free(body);
        if (!json_is_object(j)) {
                json_decref(j);
                return berth_error_setx(err, EINVAL, "%s: invalid JSON: %s", what, je.text);
        }
        *ret = j;
        return 0;
}

/* ---------------------------------------------------------------- pull */

static void pull_release(struct pull *p)
{
        if (p->multi)
                curl_multi_cleanup(p->multi);
        free(p->layers);
}

/* config, layers and the commit for the image manifest m (stored as body, man_digest) */
static int pull_manifest(struct reg_client *c, struct berth_images *imgs,
                         const struct image_manifest *m, const char *body, size_t len,
                         const char *man_digest, const char *top_digest, const char *named,
                         bool timing, int64_t t_start, char **ret_id, struct berth_error **err)
{
        struct berth_store *st = berth_images_blobs(imgs);
        int r = 0;
        _cleanup_(pull_release) struct pull p = {.c = c, .imgs = imgs, .timing = timing};
        _cleanup_json_ json_t *config = NULL;
        _cleanup_strv_ char **diff_ids = NULL;
        _cleanup_strv_ char **chain_ids = NULL;
        if ((r = get_config(c, imgs, &m->config, &config, err)) < 0 ||
            (r = image_config_diff_ids(config, &diff_ids, &chain_ids, err)) < 0) {
                berth_error_wrap(err, "pull `%s`", named);
                return r;
        }
        if (strv_length(diff_ids) != m->n_layers) {
                r = berth_error_setx(err, EINVAL,
                                     "pull `%s`: the manifest has %zu layers but the config %zu",
                                     named, m->n_layers, strv_length(diff_ids));
                return r;
        }
        int64_t t_meta = now_ns(CLOCK_MONOTONIC);
        p.n = m->n_layers;
        p.layers = xcalloc(p.n + 1, sizeof(*p.layers));
        size_t fetch = 0;
        for (size_t i = 0; i < p.n; i++) {
                struct layer *l = &p.layers[i];
                l->p = &p;
                l->rfd = l->wfd = -1;
                l->desc = &m->layers[i];
                l->diff_id = diff_ids[i];
                l->chain_id = chain_ids[i];
                reg_short_id(l->desc->digest, l->id);
                if (berth_layer_exists(imgs, l->chain_id)) {
                        l->state = LAYER_SKIP;
                        reg_progress(c, l->id, "Already exists", 0, 0);
                        continue;
                }
                l->state = LAYER_QUEUED;
                l->foreign = l->desc->urls && l->desc->urls[0];
                l->url = l->foreign ? xstrdup(l->desc->urls[0])
                                    : xasprintf("%s/v2/%s/blobs/%s", c->base, c->ref.path,
                                                l->desc->digest);
                reg_progress(c, l->id, "Pulling fs layer", 0, 0);
                fetch++;
        }
        /* the manifest is stored first: the commit below names it */
        if ((r = berth_store_put(st, body, len, man_digest, NULL, err)) < 0) {
                berth_error_wrap(err, "pull `%s`: store manifest", named);
                return r;
        }
        if (fetch > 0) {
                p.multi = curl_multi_init();
                if (!p.multi) {
                        return berth_error_setx(err, ENOMEM, "curl: cannot create a multi handle");
                }
                r = download_all(&p, err);
                layers_release(&p);
                if (r < 0) {
                        berth_error_wrap(err, "pull `%s`", named);
                        return r;
                }
        }
        int64_t t_layers = now_ns(CLOCK_MONOTONIC);
        _cleanup_free_ char *existing = NULL;
        bool had = berth_image_resolve(imgs, m->config.digest, &existing, NULL) == 0;
        _cleanup_free_ char *repo_digest = xasprintf("%s@%s", c->repo, top_digest);
        _cleanup_free_ char *tag = c->ref.tag ? xasprintf("%s:%s", c->repo, c->ref.tag) : NULL;
        if ((r = berth_image_commit(imgs, m->config.digest, man_digest, repo_digest, tag, ret_id,
                                    err)) < 0) {
                berth_error_wrap(err, "pull `%s`", named);
                return r;
        }
        _cleanup_free_ char *dmsg = xasprintf("Digest: %s", top_digest);
        reg_progress(c, NULL, dmsg, 0, 0);
        _cleanup_free_ char *smsg =
            xasprintf("Status: %s for %s",
                      fetch == 0 && had ? "Image is up to date" : "Downloaded newer image", named);
        reg_progress(c, NULL, smsg, 0, 0);
        if (timing) {
                int64_t import_cpu = 0;
                uint64_t bytes = 0;
                int64_t blob_ns = 0;
                for (size_t i = 0; i < p.n; i++) {
                        import_cpu += p.layers[i].import_cpu_ns;
                        blob_ns += p.layers[i].blob_ns;
                        bytes += p.layers[i].received;
                }
                int64_t t_end = now_ns(CLOCK_MONOTONIC);
                berth_log(
                    BERTH_LOG_INFO,
                    "pull timing: total %.1f ms: manifest+config %.1f ms, layers %.1f ms "
                    "(%zu layers, %.1f MB; pipe writes %.1f ms in the download thread; import "
                    "threads %.1f ms cpu, of which blob sha256+write+fsync %.1f ms), "
                    "commit %.1f ms",
                    (t_end - t_start) / 1e6, (t_meta - t_start) / 1e6, (t_layers - t_meta) / 1e6,
                    fetch, bytes / 1e6, p.pipe_ns / 1e6, import_cpu / 1e6, blob_ns / 1e6,
                    (t_end - t_layers) / 1e6);
        }
        return 0;
}

int berth_image_pull(struct berth_images *imgs, const char *ref,
                     const struct berth_registry_opts *o, char **ret_id, struct berth_error **err)
{
        _cleanup_(reg_client_release) struct reg_client c = {0};
        if (reg_client_init(&c, ref, "pull", o, err) < 0)
                return berth_error_wrap(err, "pull `%s`", ref);
        bool timing = getenv("BERTH_PULL_TIMING") != NULL;
        int64_t t_start = now_ns(CLOCK_MONOTONIC);
        const char *reference = c.ref.digest ? c.ref.digest : c.ref.tag ? c.ref.tag : "latest";
        _cleanup_free_ char *named = berth_ref_familiar(&c.ref);
        _cleanup_free_ char *body = NULL, *type = NULL, *top_digest = NULL;
        size_t len = 0;
        if (c.ref.tag) {
                _cleanup_free_ char *from = xasprintf("Pulling from %s", c.ref.path);
                reg_progress(&c, c.ref.tag, from, 0, 0);
        }
        if (get_manifest(&c, reference, &body, &len, &type, &top_digest, err) < 0)
                return berth_error_wrap(err, "pull `%s`", named);
        struct image_manifest *m = NULL;
        if (image_manifest_parse(body, len, type, &m, err) < 0)
                return berth_error_wrap(err, "pull `%s`: manifest %s", named, top_digest);
        _cleanup_free_ char *man_digest = xstrdup(top_digest);
        if (image_manifest_is_index(m)) {
                const struct image_descriptor *d = NULL;
                int r = image_index_select(m, c.opts.platform, &d, err);
                _cleanup_free_ char *sel = r == 0 ? xstrdup(d->digest) : NULL;
                image_manifest_free(m);
                m = NULL;
                if (r < 0)
                        return berth_error_wrap(err, "pull `%s`", named);
                free(body);
                free(type);
                body = type = NULL;
                free(man_digest);
                man_digest = NULL;
                if (get_manifest(&c, sel, &body, &len, &type, &man_digest, err) < 0)
                        return berth_error_wrap(err, "pull `%s`", named);
                if (image_manifest_parse(body, len, type, &m, err) < 0)
                        return berth_error_wrap(err, "pull `%s`: manifest %s", named, sel);
                if (image_manifest_is_index(m)) {
                        image_manifest_free(m);
                        return berth_error_setx(
                            err, EINVAL, "pull `%s`: index %s points at another index", named, sel);
                }
        }
        int r = pull_manifest(&c, imgs, m, body, len, man_digest, top_digest, named, timing,
                              t_start, ret_id, err);
        image_manifest_free(m);
        return r;
}
