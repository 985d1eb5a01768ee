//! plex
