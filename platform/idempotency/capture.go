package idempotency

import (
	"bytes"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"usersvc/platform/db"
)

// response is an answer captured from a handler or loaded from a stored key.
type response struct {
	status   int
	headers  Headers     // what is stored and replayed
	live     http.Header // every header the handler set, sent with the first answer
	body     []byte
	replayed bool
}

// recorder is the ResponseWriter a handler writes to while its transaction is open: nothing
// reaches the client before the commit.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// capture runs next with the request's context replaced by the attempt's (so the handler's
// statements share the Runner's deadline) carrying tx (so the handler's repository joins
// it), and records its answer, errors rendered by the app's error handler. Errors the Runner
// must see (contention, unavailability, the attempt's time running out) are returned instead,
// to be retried or answered 503 with nothing stored.
func capture(c echo.Context, tx *gorm.DB, body []byte, next echo.HandlerFunc) (*response, error) {
	req, res, w := c.Request(), c.Response(), c.Response().Writer
	rec := &recorder{header: http.Header{}}
	attempt := tx.Statement.Context
	c.SetRequest(req.WithContext(db.WithTx(attempt, tx)))
	c.Request().Body = io.NopCloser(bytes.NewReader(body))
	res.Writer, res.Committed, res.Status, res.Size = rec, false, http.StatusOK, 0
	defer func() {
		c.SetRequest(req)
		res.Writer, res.Committed, res.Status, res.Size = w, false, http.StatusOK, 0
	}()

	if err := next(c); err != nil {
		if retriedByRunner(err) || attempt.Err() != nil {
			return nil, err
		}
		c.Echo().HTTPErrorHandler(err, c)
	}
	out := &response{status: rec.status, headers: Headers{}, live: rec.header, body: rec.body.Bytes()}
	if out.status == 0 {
		out.status = http.StatusOK
	}
	for _, h := range replayedHeaders {
		if v := rec.header.Get(h); v != "" {
			out.headers[h] = v
		}
	}
	return out, nil
}

// write sends the response to the client: the first answer with every header the handler
// set, a replay with the stored ones.
func (r *response) write(c echo.Context) error {
	for name, v := range r.live {
		c.Response().Header()[name] = v
	}
	for name, v := range r.headers {
		c.Response().Header().Set(name, v)
	}
	if r.replayed {
		c.Response().Header().Set(ReplayedHeader, "true")
	}
	if len(r.body) == 0 {
		return c.NoContent(r.status)
	}
	c.Response().WriteHeader(r.status)
	_, err := c.Response().Write(r.body)
	return err
}
