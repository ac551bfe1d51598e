"""The HTTP surface under /o/ and /.well-known/: thin views over the grants, DOT's endpoints
and the keys; discovery metadata; the middleware that lets service endpoints skip the
browser's."""
