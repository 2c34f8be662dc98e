"""A real third-party client against a Carbyne dev node: the Python `bitshares`
library (read-only), once our chain id is registered in its `known_chains`.

Usage: bitshares_client.py ws://HOST:PORT   (run by scripts/python-client.sh)

It reads Account("dev") with its balances, Asset("CORE") and the dynamic global
properties, and fails (non-zero exit) if any of them is not as the dev chain has it.
"""
import json
import sys
import urllib.request

url = sys.argv[1]


def rpc(method, params):
    http = url.replace("ws://", "http://")
    body = json.dumps({"id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(http, data=body, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]


# Registered before the library is imported further, as BitShares users do for a
# new chain: the library refuses chains it does not know.
chain_id = rpc("get_chain_id", [])
prefix = rpc("get_config", [])["GRAPHENE_ADDRESS_PREFIX"]
from bitsharesbase.chains import known_chains  # noqa: E402

known_chains["CARBYNE"] = {"chain_id": chain_id, "core_symbol": "CORE", "prefix": prefix}

from bitshares import BitShares  # noqa: E402
from bitshares.account import Account  # noqa: E402
from bitshares.asset import Asset  # noqa: E402

bts = BitShares(url, nobroadcast=True, num_retries=0)
assert bts.rpc.chain_params["chain_id"] == chain_id, bts.rpc.chain_params

dgp = bts.rpc.get_dynamic_global_properties()
assert dgp["id"] == "2.1.0", dgp
assert int(dgp["head_block_number"]) >= 1, dgp
print("dynamic global properties: head block", dgp["head_block_number"], dgp["head_block_id"])

core = Asset("CORE", blockchain_instance=bts)
assert (core["symbol"], core["id"], core["precision"]) == ("CORE", "1.3.0", 5), dict(core)
print("asset:", core["symbol"], core["id"], "precision", core["precision"])

dev = Account("dev", blockchain_instance=bts)
assert dev["name"] == "dev" and dev["id"].startswith("1.2."), dict(dev)
balances = dev.balances
# The dev chain gives `dev` one billion CORE; it has paid fees since, at most.
core_balance = [b for b in balances if b.symbol == "CORE"]
assert len(core_balance) == 1 and 0 < core_balance[0].amount <= 1_000_000_000, balances
print("account:", dev["name"], dev["id"], "balances", [str(b) for b in balances])
print("OK: the bitshares library reads this node")
