"""CDK stacks of the churn endpoint with data-quality monitoring; stacks only compose constructs."""
