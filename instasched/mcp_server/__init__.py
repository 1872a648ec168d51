"""An MCP server for assistants (issue 21): streamable HTTP at /api/mcp, `instasched mcp` over
stdio. Its tools call the API itself (in process under the API, over HTTP from stdio) with the
caller's API key, so inputs are the API's schemas, errors are the API's messages, and scopes,
rate limits and ownership rules are the API's own (docs/mcp.md)."""
