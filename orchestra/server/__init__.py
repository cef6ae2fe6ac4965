"""`orchestra serve`: the LangGraph API subset that `langgraph-sdk` and agent-chat-ui use, over Orchestra's graphs,
checkpointers and gateway. Importing this package loads nothing heavy; the app lives in `orchestra.server.app`."""
