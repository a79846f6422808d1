"""What the API and the portal share at their door: tokens and roles (`auth`), the audit log of
every pull and refusal (`audit`), and uploads received as a stream within the size limit
(`uploads`). Both doors import this package; it imports neither."""
