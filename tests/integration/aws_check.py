#!/usr/bin/env python3
"""Independent check of what the aws provider left in an AWS endpoint (moto in tests).

Lists, with boto3, every object carrying the tag kengine.io/cluster=<cluster> and prints
one JSON document on stdout:

  {"vpcs": [...], "subnets": [...], "internet_gateways": [...], "route_tables": [...],
   "security_groups": [...], "key_pairs": [...], "launch_templates": [...],
   "auto_scaling_groups": [...], "instances": [...],
   "untagged_in_vpcs": [...],   # subnets/route tables/security groups in the cluster's VPCs
                                # that lack the ownership tag (AWS's own main route table and
                                # default security group excluded)
   "live_count": N}             # tagged objects, instances in state "terminated" excluded

Launch templates include "user_data": the latest version's UserData decoded
(base64, then gunzip when gzip'd).

Usage: aws_check.py --endpoint http://127.0.0.1:PORT --cluster NAME [--region us-east-1]
Credentials come from the environment (tests set AWS_ACCESS_KEY_ID=testing ...).
"""
import argparse
import base64
import gzip
import json
import sys

import boto3

CLUSTER_TAG = "kengine.io/cluster"


def tags_of(obj, key="Tags"):
    return {t["Key"]: t.get("Value", "") for t in obj.get(key) or []}


def paginate(client, op, key, **kwargs):
    out = []
    for page in client.get_paginator(op).paginate(**kwargs):
        out.extend(page.get(key, []))
    return out


def decode_user_data(data):
    if not data:
        return None
    raw = base64.b64decode(data)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--region", default="us-east-1")
    args = ap.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint, region_name=args.region)
    asg = boto3.client("autoscaling", endpoint_url=args.endpoint, region_name=args.region)
    owned = [{"Name": "tag:" + CLUSTER_TAG, "Values": [args.cluster]}]
    out = {}

    vpcs = ec2.describe_vpcs(Filters=owned)["Vpcs"]
    out["vpcs"] = [{"id": v["VpcId"], "cidr": v["CidrBlock"], "tags": tags_of(v)} for v in vpcs]

    subnets = ec2.describe_subnets(Filters=owned)["Subnets"]
    out["subnets"] = [{"id": s["SubnetId"], "cidr": s["CidrBlock"], "zone": s["AvailabilityZone"],
                       "vpc_id": s["VpcId"], "map_public_ip": s.get("MapPublicIpOnLaunch", False),
                       "tags": tags_of(s)} for s in subnets]

    igws = ec2.describe_internet_gateways(Filters=owned)["InternetGateways"]
    out["internet_gateways"] = [{"id": g["InternetGatewayId"],
                                 "attached_vpcs": [a["VpcId"] for a in g.get("Attachments", [])
                                                   if a.get("State") in ("available", "attached")],
                                 "tags": tags_of(g)} for g in igws]

    rts = ec2.describe_route_tables(Filters=owned)["RouteTables"]
    out["route_tables"] = [{
        "id": t["RouteTableId"], "vpc_id": t["VpcId"],
        "routes": [{"destination": r.get("DestinationCidrBlock"), "gateway_id": r.get("GatewayId")}
                   for r in t.get("Routes", [])],
        "associated_subnets": sorted(a["SubnetId"] for a in t.get("Associations", [])
                                     if a.get("SubnetId") and not a.get("Main")),
        "tags": tags_of(t)} for t in rts]

    sgs = ec2.describe_security_groups(Filters=owned)["SecurityGroups"]
    out["security_groups"] = [{
        "id": g["GroupId"], "name": g["GroupName"], "vpc_id": g.get("VpcId"),
        "ingress": [{"protocol": p.get("IpProtocol"), "from": p.get("FromPort"), "to": p.get("ToPort"),
                     "cidrs": sorted(r["CidrIp"] for r in p.get("IpRanges", []))}
                    for p in g.get("IpPermissions", [])],
        "tags": tags_of(g)} for g in sgs]

    kps = ec2.describe_key_pairs(Filters=owned)["KeyPairs"]
    out["key_pairs"] = [{"id": k.get("KeyPairId"), "name": k["KeyName"], "tags": tags_of(k)} for k in kps]

    lts = ec2.describe_launch_templates(Filters=owned)["LaunchTemplates"]
    templates = []
    for t in lts:
        v = ec2.describe_launch_template_versions(LaunchTemplateId=t["LaunchTemplateId"],
                                                  Versions=["$Latest"])["LaunchTemplateVersions"][0]
        data = v.get("LaunchTemplateData", {})
        templates.append({"id": t["LaunchTemplateId"], "name": t["LaunchTemplateName"],
                          "latest_version": t.get("LatestVersionNumber"),
                          "image_id": data.get("ImageId"), "instance_type": data.get("InstanceType"),
                          "key_name": data.get("KeyName"),
                          "security_group_ids": data.get("SecurityGroupIds", []),
                          "user_data": decode_user_data(data.get("UserData")),
                          "tags": tags_of(t)})
    out["launch_templates"] = templates

    groups = paginate(asg, "describe_auto_scaling_groups", "AutoScalingGroups",
                      Filters=[{"Name": "tag:" + CLUSTER_TAG, "Values": [args.cluster]}])
    out["auto_scaling_groups"] = [{
        "name": g["AutoScalingGroupName"], "min": g["MinSize"], "max": g["MaxSize"],
        "desired": g["DesiredCapacity"],
        "launch_template_id": (g.get("LaunchTemplate") or {}).get("LaunchTemplateId"),
        "subnet_ids": sorted(s for s in g.get("VPCZoneIdentifier", "").split(",") if s),
        "instance_ids": sorted(i["InstanceId"] for i in g.get("Instances", [])),
        "tags": tags_of(g)} for g in groups]

    instances = []
    for r in ec2.describe_instances(Filters=owned)["Reservations"]:
        for i in r["Instances"]:
            instances.append({"id": i["InstanceId"], "state": i["State"]["Name"],
                              "private_ip": i.get("PrivateIpAddress"), "tags": tags_of(i)})
    out["instances"] = instances

    untagged = []
    vpc_ids = [v["VpcId"] for v in vpcs]
    if vpc_ids:
        in_vpc = [{"Name": "vpc-id", "Values": vpc_ids}]
        for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]:
            if CLUSTER_TAG not in tags_of(s):
                untagged.append(s["SubnetId"])
        for t in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]:
            main = any(a.get("Main") for a in t.get("Associations", []))
            if CLUSTER_TAG not in tags_of(t) and not main:
                untagged.append(t["RouteTableId"])
        for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]:
            if CLUSTER_TAG not in tags_of(g) and g["GroupName"] != "default":
                untagged.append(g["GroupId"])
    out["untagged_in_vpcs"] = untagged

    live = sum(len(out[k]) for k in ("vpcs", "subnets", "internet_gateways", "route_tables",
                                       "security_groups", "key_pairs", "launch_templates",
                                       "auto_scaling_groups"))
    live += sum(1 for i in instances if i["state"] != "terminated")
    out["live_count"] = live
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
