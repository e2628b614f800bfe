"""boto3 against moto's server for the JS harness (js/test/harness.mjs): an independent AWS KMS
client beside keyseal's own (docs/KEY-SERVICES.md). One JSON object out per call.

  aws.py setup NOAUTH_URL AUTH_URL RUNTIME...   keys on both servers, an IAM user with kms:* on AUTH_URL
  aws.py generate URL KEY CONTEXT_JSON          GenerateDataKey → {plaintext, ciphertext} (base64)
  aws.py decrypt URL KEY CIPHERTEXT CONTEXT_JSON  Decrypt → {plaintext} or {error}
  aws.py disable|enable URL KEY
Credentials for AUTH_URL calls come from KEYSEAL_AWS_ACCESS_KEY_ID / KEYSEAL_AWS_SECRET_ACCESS_KEY.
"""
import base64
import json
import os
import sys

import boto3
import botocore

REGION = "us-east-1"


def client(service, url, key="testing", secret="testing"):
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id=os.environ.get("KEYSEAL_AWS_ACCESS_KEY_ID", key),
                        aws_secret_access_key=os.environ.get("KEYSEAL_AWS_SECRET_ACCESS_KEY", secret))


def keys(kms, runtimes):
    out = {"main": kms.create_key(Description="keyseal main")["KeyMetadata"]["Arn"],
           "next": kms.create_key(Description="keyseal rotation target")["KeyMetadata"]["Arn"],
           "escrow": kms.create_key(Description="keyseal escrow")["KeyMetadata"]["Arn"],
           "revoke": {}}
    kms.create_alias(AliasName="alias/keyseal-main", TargetKeyId=out["main"])
    for r in runtimes:
        out["revoke"][r] = kms.create_key(Description=f"keyseal revoke {r}")["KeyMetadata"]["Arn"]
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "setup":
        noauth, auth, runtimes = sys.argv[2], sys.argv[3], sys.argv[4:]
        # the auth server counts its first unauthenticated actions (INITIAL_NO_AUTH_ACTION_COUNT):
        # create the user, its policy and its access key with them, then sign with the key
        iam = boto3.client("iam", endpoint_url=auth, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        iam.create_user(UserName="keyseal")
        pol = iam.create_policy(PolicyName="keyseal-kms", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
        iam.attach_user_policy(UserName="keyseal", PolicyArn=pol["Policy"]["Arn"])
        ak = iam.create_access_key(UserName="keyseal")["AccessKey"]
        signed = boto3.client("kms", endpoint_url=auth, region_name=REGION,
                              aws_access_key_id=ak["AccessKeyId"], aws_secret_access_key=ak["SecretAccessKey"])
        print(json.dumps({"region": REGION, "accessKeyId": ak["AccessKeyId"], "secretAccessKey": ak["SecretAccessKey"],
                          "noauth": keys(client("kms", noauth), runtimes), "auth": keys(signed, runtimes)}))
        return
    url, key = sys.argv[2], sys.argv[3]
    kms = client("kms", url)
    if cmd == "generate":
        g = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext=json.loads(sys.argv[4]))
        print(json.dumps({"plaintext": base64.b64encode(g["Plaintext"]).decode(),
                          "ciphertext": base64.b64encode(g["CiphertextBlob"]).decode()}))
    elif cmd == "decrypt":
        try:
            d = kms.decrypt(KeyId=key, CiphertextBlob=base64.b64decode(sys.argv[4]), EncryptionContext=json.loads(sys.argv[5]))
            print(json.dumps({"plaintext": base64.b64encode(d["Plaintext"]).decode()}))
        except botocore.exceptions.ClientError as e:
            print(json.dumps({"error": e.response["Error"]["Code"]}))
    elif cmd in ("disable", "enable"):
        getattr(kms, f"{cmd}_key")(KeyId=key.split("/")[-1])
        print(json.dumps({"ok": True}))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
