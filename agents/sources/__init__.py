"""Reading the pages a brief cites: an SSRF guard in front of aiohttp, and HTML to text."""
