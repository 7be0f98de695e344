package web

import "context"

// Stop ends what the server runs besides a listener it was not given:
// /readyz reports draining, every WebSocket is closed (their clients
// reconnect, to whichever server leads next) and statistics streams end.
// A server whose Handler is served by someone else (a node's front, that
// outlives one term as leader) stops with it.
func (s *Server) Stop(ctx context.Context) {
	s.draining.Store(true)
	s.hub.Shutdown(ctx)
	s.closeStreams()
}
