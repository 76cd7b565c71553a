DROP TABLE expenses;
DROP TABLE budgets;
