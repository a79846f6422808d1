"""The web portal: server-rendered NHS.UK pages for providers, requesters and the data team."""
