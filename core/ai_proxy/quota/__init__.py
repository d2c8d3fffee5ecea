"""Per client key limits, budgets and the usage ledger, per instance or fleet-wide.

store.py    the store interface (admit, settle, usage) and its values
memory.py   MemoryStore: one instance, the default
redis.py    RedisStore: one Redis (or Redis Cluster) shared by the fleet
policy.py   Quota: the config's limits per key, what a refusal or a store error answers
prices.py   the price table that turns reported tokens into cost
"""
