DROP TABLE tenant_metrics;
