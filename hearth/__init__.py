"""The few things every room of hearth shares: the error a user sees, where hearth keeps its
files, atomic writes, and the JSON-lines events long jobs print. Depends on nothing of ours."""
