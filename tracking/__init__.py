"""Equipment tracking: tags, assets, zones, gateways, the location engine, alerts and the locate pages."""
