"""Design to code: the deterministic compiler from a simplified Figma tree to HTML and CSS."""
