"""Domain logic: views and the API call these, and nothing else touches storage or rules."""
