"""People who use the hub (roles: admin, lead, agent, viewer) and their teams."""
