"""The Slack interface (slack_bolt): the only package that imports slack_bolt / slack_sdk."""
